// Reading what a command did from strace -f: the system calls of every thread, in the order they
// returned, and the check that every file a command renamed into place was flushed first and its
// directory after (test/cli/durability.test.ts, test/system/flush.test.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BIN, run, show } from './cli.js';

export interface Call {
  name: string;
  args: string;
  result: string;
  /** Line numbers in the log where the call began and where it returned (the same for an uninterrupted call). */
  began: number;
  ended: number;
}

/** The system calls of a strace -f log in the order they returned, an interrupted call joined with its resumption. */
export function calls(log: string): Call[] {
  const open = new Map<string, { name: string; args: string; began: number }>();
  const out: Call[] = [];
  log.split('\n').forEach((line, n) => {
    let m = /^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$/.exec(line);
    if (m) {
      open.set(m[1]!, { name: m[2]!, args: m[3]!, began: n });
      return;
    }
    m = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+= (.*)$/.exec(line);
    if (m) {
      const start = open.get(m[1]!);
      open.delete(m[1]!);
      if (start) out.push({ name: start.name, args: start.args + m[3]!, result: m[4]!, began: start.began, ended: n });
      return;
    }
    m = /^(\d+)\s+(\w+)\((.*)\)\s+= (.*)$/.exec(line);
    if (m) out.push({ name: m[2]!, args: m[3]!, result: m[4]!, began: n, ended: n });
  });
  return out;
}

const firstString = (args: string): string | undefined => /"((?:[^"\\]|\\.)*)"/.exec(args)?.[1];
const secondString = (args: string): string | undefined => [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)][1]?.[1];

/**
 * For each rename into `name`: the renamed file was flushed before it, by a flush that began after
 * the last write to the descriptor it was written through and ended before the rename began:
 * fsync or fdatasync of that descriptor. And a flush of its directory (opened by the path the rename
 * used) began after the rename.
 */
export function assertDurable(cs: readonly Call[], isTarget: (to: string) => boolean): number {
  let checked = 0;
  cs.forEach((c, i) => {
    if (!/^rename(at2?)?$/.test(c.name) || !c.result.startsWith('0')) return;
    const from = firstString(c.args)!;
    const to = secondString(c.args)!;
    if (!isTarget(to)) return;
    checked++;
    // The descriptor the temporary was created as, its last write, and a flush after that write and before the rename.
    const created = cs
      .slice(0, i)
      .reverse()
      .find((o) => o.name === 'openat' && firstString(o.args) === from && /O_CREAT/.test(o.args));
    assert.ok(created, `${to}: the temporary ${from} was not created by this process`);
    const fd = created.result.split(' ')[0]!;
    const sameFd = (o: Call): boolean => o.args.split(',')[0]!.trim() === fd;
    const between = cs.slice(cs.indexOf(created), i);
    const lastWrite = between.filter((o) => /^p?write(64)?$/.test(o.name) && sameFd(o)).at(-1);
    assert.ok(lastWrite, `${to}: nothing was written to ${from}`);
    const flushed = between.some(
      (o) =>
        o.result.startsWith('0') &&
        o.began > lastWrite.ended &&
        o.ended < c.began &&
        /^f(data)?sync$/.test(o.name) &&
        sameFd(o),
    );
    assert.ok(flushed, `${to}: the content was not flushed after it was written and before the rename`);
    // A flush of the directory, opened after the rename.
    const dir = dirname(to);
    const later = cs.slice(i + 1);
    const dirFds = later
      .filter((o) => o.name === 'openat' && firstString(o.args) === dir && /O_DIRECTORY/.test(o.args))
      .map((o) => o.result.split(' ')[0]);
    const dirFlushed = later.some((o) => o.name === 'fsync' && dirFds.includes(o.args.trim()));
    assert.ok(dirFlushed, `${to}: its directory ${dir} was not flushed after the rename`);
  });
  return checked;
}

export async function traced(dir: string, args: string[]): Promise<Call[]> {
  const log = join(dir, 'strace.log');
  const r = await run('strace', [
    '-f',
    '-qq',
    '-s',
    '4096',
    '-e',
    'trace=openat,write,pwrite64,rename,renameat,renameat2,fsync,fdatasync,syncfs',
    '-o',
    log,
    BIN,
    ...args,
  ]);
  assert.equal(r.status, 0, show(r));
  return calls(readFileSync(log, 'utf8'));
}

/**
 * The flushes of a run that wrote `files` new files: an fsync of each file's own descriptor before
 * its rename (assertDurable checks the order), and fsyncs of their folders after, shared by the
 * renames made into one folder while a flush of it was pending.
 */
export function assertFlushKinds(cs: readonly Call[], fsName: string, files: number): void {
  const where = `${fsName}, ${files} files`;
  const renames = cs.filter((c) => /^rename(at2?)?$/.test(c.name) && c.result.startsWith('0')).length;
  const fileFlushes = cs.filter((c) => /^f(data)?sync$/.test(c.name)).length;
  assert.equal(cs.filter((c) => c.name === 'syncfs').length, 0, `${where}: no filesystem-wide flush`);
  assert.ok(renames >= files, `${where}: ${renames} renames`);
  assert.ok(fileFlushes > files, `${where}: a flush per file and at least one of a folder (${fileFlushes})`);
}
