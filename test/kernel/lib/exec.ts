// Small synchronous process helpers for the kernel acceptance suite (host side).
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) return { status: null, stdout: '', stderr: String(r.error.message) };
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Runs a command and throws with its output when it does not exit 0. */
export function mustRun(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    throw new Error(
      `command failed (exit ${r.status}): ${[cmd, ...args].join(' ')}\n` +
        `--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`,
    );
  }
  return r.stdout;
}

export function which(cmd: string): string | undefined {
  const r = run('sh', ['-c', `command -v ${cmd}`]);
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}
