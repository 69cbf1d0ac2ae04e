/** What the system tests of carriers and migrate share: tool checks, --json records, xattrs read by getfattr. */
import type { TestContext } from 'node:test';
import { jsonOutput, run, show, type RunResult } from './cli.js';
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
