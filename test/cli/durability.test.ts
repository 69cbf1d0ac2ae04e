// Nothing is half-written, and what is written stays written: every file a command renames into
// place has its content flushed before the rename and its directory flushed after it. Checked on the
// real command line with strace, which sees the system calls of every thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BIN, fixture, run, show, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

const SIGN = ['--key', fixture('keys/rsa2048.key.pem'), '--cert', fixture('keys/rsa2048.crt.pem')];

interface Call {
  name: string;
  args: string;
  result: string;
}

/** The system calls of a strace -f log, an interrupted call joined with its resumption. */
function calls(log: string): Call[] {
  const open = new Map<string, { name: string; args: string }>();
  const out: Call[] = [];
  for (const line of log.split('\n')) {
    let m = /^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$/.exec(line);
    if (m) {
      open.set(m[1]!, { name: m[2]!, args: m[3]! });
      continue;
    }
    m = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+= (.*)$/.exec(line);
    if (m) {
      const start = open.get(m[1]!);
      open.delete(m[1]!);
      if (start) out.push({ name: start.name, args: start.args + m[3]!, result: m[4]! });
      continue;
    }
    m = /^(\d+)\s+(\w+)\((.*)\)\s+= (.*)$/.exec(line);
    if (m) out.push({ name: m[2]!, args: m[3]!, result: m[4]! });
  }
  return out;
}

const firstString = (args: string): string | undefined => /"((?:[^"\\]|\\.)*)"/.exec(args)?.[1];
const secondString = (args: string): string | undefined => [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)][1]?.[1];

/**
 * For each rename into `name`: the renamed file was flushed before (fsync or fdatasync of the
 * descriptor it was written through), and a flush of its directory (opened by the path the rename
 * used) began after it.
 */
function assertDurable(cs: readonly Call[], isTarget: (to: string) => boolean): number {
  let checked = 0;
  cs.forEach((c, i) => {
    if (!/^rename(at2?)?$/.test(c.name) || !c.result.startsWith('0')) return;
    const from = firstString(c.args)!;
    const to = secondString(c.args)!;
    if (!isTarget(to)) return;
    checked++;
    // The descriptor the temporary was created as, and a flush of it before the rename.
    const created = cs.slice(0, i).reverse().find((o) => o.name === 'openat' && firstString(o.args) === from && /O_CREAT/.test(o.args));
    assert.ok(created, `${to}: the temporary ${from} was not created by this process`);
    const fd = created.result.split(' ')[0];
    const flushed = cs.slice(cs.indexOf(created), i).some((o) => /^f(data)?sync$/.test(o.name) && o.args.trim() === fd && o.result.startsWith('0'));
    assert.ok(flushed, `${to}: the content was not flushed before the rename`);
    // A flush of the directory, opened after the rename.
    const dir = dirname(to);
    const later = cs.slice(i + 1);
    const dirFds = later.filter((o) => o.name === 'openat' && firstString(o.args) === dir && /O_DIRECTORY/.test(o.args)).map((o) => o.result.split(' ')[0]);
    const dirFlushed = later.some((o) => o.name === 'fsync' && dirFds.includes(o.args.trim()));
    assert.ok(dirFlushed, `${to}: its directory ${dir} was not flushed after the rename`);
  });
  return checked;
}

async function traced(dir: string, args: string[]): Promise<Call[]> {
  const log = join(dir, 'strace.log');
  const r = await run('strace', ['-f', '-qq', '-s', '4096', '-e', 'trace=openat,rename,renameat,renameat2,fsync,fdatasync', '-o', log, BIN, ...args]);
  assert.equal(r.status, 0, show(r));
  return calls(readFileSync(log, 'utf8'));
}

function ready(t: import('node:test').TestContext): boolean {
  if (!haveCommand('strace')) {
    skipOrFail(t, 'needs the command strace');
    return false;
  }
  return true;
}

test('sign -r: every sidecar is flushed, renamed into place, then its directory flushed', async (t) => {
  if (!ready(t)) return;
  const dir = await tempDir(t);
  const tree = join(dir, 'tree');
  for (const d of ['a', 'a/b', 'c']) await mkdir(join(tree, d), { recursive: true });
  for (const f of ['a/1', 'a/2', 'a/b/3', 'c/4', 'c/5', 'c/6']) await writeFile(join(tree, f), `content of ${f}`);
  const cs = await traced(dir, ['sign', '-r', '-q', ...SIGN, tree]);
  assert.equal(assertDurable(cs, (to) => to.endsWith('.sig')), 6);
});

test('migrate to a filesystem with xattrs (no sidecar written): the copy is flushed, renamed, and its directory flushed', async (t) => {
  if (!ready(t)) return;
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  const dest = join(dir, 'dest');
  await mkdir(join(src, 'sub'), { recursive: true });
  for (const f of ['k1', 'sub/k2', 'sub/k3']) await writeFile(join(src, f), `kernel ${f}`);
  const signed = await run(BIN, ['sign', '-r', '-q', ...SIGN, src]);
  assert.equal(signed.status, 0, show(signed));
  const cs = await traced(dir, ['migrate', '-r', '-q', '--xattr', 'user.ima', src, dest]);
  assert.equal(assertDurable(cs, (to) => to.startsWith(dest) && !to.endsWith('.sig')), 3);
});
