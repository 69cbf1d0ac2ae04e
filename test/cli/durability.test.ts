// Nothing is half-written, and what is written stays written: every file a command renames into
// place has its content flushed before the rename and its directory flushed after it. Checked on the
// real command line with strace, which sees the system calls of every thread.
import { statSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, fixture, run, show, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';
import { assertDurable, assertFlushKinds, traced } from '../helpers/strace.js';
import { Filesystems } from '../../src/carriers/filesystem.js';

const SIGN = ['--key', fixture('keys/rsa2048.key.pem'), '--cert', fixture('keys/rsa2048.crt.pem')];

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
  const files = ['a/1', 'a/2', 'a/b/3', 'c/4', 'c/5', 'c/6', ...Array.from({ length: 54 }, (_, k) => `c/more${k}`)];
  for (const f of files) await writeFile(join(tree, f), `content of ${f}`);
  const cs = await traced(dir, ['sign', '-r', '-q', ...SIGN, tree]);
  assert.equal(
    assertDurable(cs, (to) => to.endsWith('.sig')),
    files.length,
  );
  assertFlushKinds(cs, new Filesystems().of(dir, statSync(dir).dev).name, files.length);
});

test("sign of one file: its own flush and its folder's, no shared flush", async (t) => {
  if (!ready(t)) return;
  const dir = await tempDir(t);
  const file = join(dir, 'vmlinuz');
  await writeFile(file, 'a kernel');
  const cs = await traced(dir, ['sign', '-q', ...SIGN, file]);
  assert.equal(
    assertDurable(cs, (to) => to.endsWith('.sig')),
    1,
  );
  assertFlushKinds(cs, new Filesystems().of(dir, statSync(dir).dev).name, 1);
});

test(
  'migrate to a filesystem with xattrs (no sidecar written): ' +
    'the copy is flushed, renamed, and its directory flushed',
  async (t) => {
    if (!ready(t)) return;
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    const dest = join(dir, 'dest');
    await mkdir(join(src, 'sub'), { recursive: true });
    for (const f of ['k1', 'sub/k2', 'sub/k3']) await writeFile(join(src, f), `kernel ${f}`);
    const signed = await run(BIN, ['sign', '-r', '-q', ...SIGN, src]);
    assert.equal(signed.status, 0, show(signed));
    const cs = await traced(dir, ['migrate', '-r', '-q', '--xattr', 'user.ima', src, dest]);
    assert.equal(
      assertDurable(cs, (to) => to.startsWith(dest) && !to.endsWith('.sig')),
      3,
    );
  },
);
