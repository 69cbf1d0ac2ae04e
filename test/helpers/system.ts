/**
 * What the system tests of carriers and migrate share: tool checks, FAT
 * settings, the CLI run with an expected status, --json records, xattrs read by
 * getfattr.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { jsonOutput, run, runCli, show, type RunResult } from './cli.js';
import { missing, skipOrFail } from './skip.js';

export type Rec = Record<string, unknown>;

/** Skips (fails under CI) when root, evmctl or attr's tools are missing; true when the test must return. */
export function toolsMissing(t: TestContext): boolean {
  const why = missing({ root: true, commands: ['evmctl', 'getfattr', 'setfattr'] });
  if (why) skipOrFail(t, why);
  return why !== undefined;
}

/** The --json records of a run, keyed by path, and its summary. */
export function records(r: RunResult): { list: Rec[]; by: Map<string, Rec>; summary: Rec } {
  const { records: list, summary } = jsonOutput(r.stdout);
  return { list, by: new Map(list.map((x) => [String(x.path), x])), summary };
}

/** The xattr's bytes as getfattr reads them; undefined when the file has none. */
export async function xattrOf(path: string, name = 'security.ima'): Promise<Buffer | undefined> {
  const r = await run('getfattr', ['--absolute-names', '--only-values', '-h', '-n', name, '--', path]);
  if (r.status === 0) return r.stdoutBytes;
  if (/No such attribute/.test(r.stderr)) return undefined;
  throw new Error(`getfattr ${name} ${path}: ${show(r)}`);
}

// fusefat's FAT library is not thread-safe: run multi-threaded, concurrent requests once left it spinning
// with a rename and a flush never answered, and the command line stuck in D state. test/helpers/mounts.ts
// now starts it single-threaded (-s); the commands that touch FAT still run one file at a time, except
// where running several at once is the point, and the tests that use FAT have a timeout, so a hang fails
// the test and unmounting ends it.
export const ONE_JOB = ['-j', '1'];
export const FAT_TIMEOUT = { timeout: 180_000 };

/** Runs the CLI and checks its exit status, showing everything it printed when that is not the one expected. */
export async function cliExpecting(args: string[], status: number, timeoutMs: number): Promise<RunResult> {
  const r = await runCli(args, { timeoutMs });
  assert.equal(r.status, status, `ima-sidecar ${args.join(' ')}\n${show(r)}`);
  return r;
}
