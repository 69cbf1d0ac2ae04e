import type { TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';

/** Under CI=true a test that cannot run is a failure, never a silent skip. */
export function skipOrFail(t: TestContext, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`cannot run under CI: ${reason}`);
  t.skip(reason);
}

export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Returns a reason the test cannot run, or undefined when every requirement holds. */
export function missing(opts: { root?: boolean; commands?: string[]; files?: string[] }): string | undefined {
  if (opts.root && !isRoot()) return 'needs root';
  for (const c of opts.commands ?? []) if (!haveCommand(c)) return `needs the command ${c}`;
  return undefined;
}
