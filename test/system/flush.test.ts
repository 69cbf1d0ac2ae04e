// Sidecars written on each real filesystem are flushed before their rename and their folder after it
// (strace of the real command line), on ext4, xfs, btrfs and FAT through FUSE alike: an fsync of each file, and
// folder flushes shared by the renames made into one folder while one was pending.
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { fixture } from '../helpers/cli.js';
import { useMount, type FsKind } from '../helpers/mounts.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';
import { assertDurable, assertFlushKinds, traced } from '../helpers/strace.js';
import { FAT_TIMEOUT } from '../helpers/system.js';
import { Filesystems } from '../../src/carriers/filesystem.js';
import { decodeImaValue } from '../../src/codec/ima-value.js';

const SIGN = ['--key', fixture('keys/rsa2048.key.pem'), '--cert', fixture('keys/rsa2048.crt.pem')];
const KINDS: readonly FsKind[] = ['ext4', 'xfs', 'btrfs', 'fat'];

for (const kind of KINDS) {
  test(`${kind}: sign -r flushes every sidecar before its rename and its folder after it`, FAT_TIMEOUT, async (t) => {
    if (!haveCommand('strace')) return skipOrFail(t, 'needs the command strace');
    const m = await useMount(t, kind);
    if (!m) return;
    const tree = join(m.dir, 'tree');
    const files = Array.from({ length: 60 }, (_, k) => `d${k % 3}/f${k}`);
    for (const d of ['d0', 'd1', 'd2']) await mkdir(join(tree, d), { recursive: true });
    for (const f of files) await writeFile(join(tree, f), `content of ${f} on ${kind}\n`);
    const cs = await traced(m.dir, ['sign', '-r', '-q', ...SIGN, tree]);
    assert.equal(
      assertDurable(cs, (to) => to.endsWith('.sig')),
      files.length,
    );
    assertFlushKinds(cs, new Filesystems().of(m.dir, statSync(m.dir).dev).name, files.length);
    for (const f of files)
      assert.equal(decodeImaValue(await readFile(join(tree, `${f}.sig`))).value.kind, 'signature', f);
  });
}
