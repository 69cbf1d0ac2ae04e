// doctor's fsuuid without udev (src/kernel/file-facts.ts uuidFromSuperblock): the UUID read from the
// superblock of real images made by each filesystem's own mkfs with a chosen UUID (no mount needed), and
// nothing for the wrong filesystem, a short file or one that is no filesystem at all.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uuidFromSuperblock } from '../../src/kernel/file-facts.js';
import { tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

interface Maker {
  fs: string;
  mkfs: string;
  mib: number;
  args: (uuid: string, image: string) => string[];
}

const MAKERS: Maker[] = [
  { fs: 'ext4', mkfs: 'mkfs.ext4', mib: 8, args: (u, i) => ['-q', '-F', '-U', u, i] },
  { fs: 'ext2', mkfs: 'mkfs.ext2', mib: 8, args: (u, i) => ['-q', '-F', '-U', u, i] },
  { fs: 'xfs', mkfs: 'mkfs.xfs', mib: 320, args: (u, i) => ['-q', '-f', '-m', `uuid=${u}`, i] },
  { fs: 'btrfs', mkfs: 'mkfs.btrfs', mib: 128, args: (u, i) => ['-q', '-f', '-U', u, i] },
  { fs: 'f2fs', mkfs: 'mkfs.f2fs', mib: 64, args: (u, i) => ['-q', '-f', '-U', u, i] },
];

async function image(t: TestContext, m: Maker, uuid: string): Promise<string | undefined> {
  if (!haveCommand(m.mkfs)) {
    skipOrFail(t, `needs ${m.mkfs}`);
    return undefined;
  }
  const file = join(await tempDir(t), `${m.fs}.img`);
  writeFileSync(file, '');
  truncateSync(file, m.mib << 20); // sparse
  const r = spawnSync(m.mkfs, m.args(uuid, file), { encoding: 'utf8' });
  assert.equal(r.status, 0, `${m.mkfs}: ${r.stderr}`);
  return file;
}

for (const m of MAKERS) {
  test(`${m.fs}: the UUID given to ${m.mkfs} -U is what the superblock reader finds`, async (t) => {
    const uuid = randomUUID();
    const file = await image(t, m, uuid);
    if (!file) return;
    assert.equal(uuidFromSuperblock(file, m.fs), uuid);
    // Another filesystem's layout finds no magic there: nothing, not a wrong UUID.
    for (const other of ['ext4', 'xfs', 'btrfs', 'f2fs'].filter(
      (o) => !(o.startsWith('ext') && m.fs.startsWith('ext')),
    ))
      if (other !== m.fs) assert.equal(uuidFromSuperblock(file, other), undefined, `read as ${other}`);
  });
}

test('no filesystem, a short file, a missing one, or a filesystem without an on-disk UUID: undefined', async (t) => {
  const dir = await tempDir(t);
  const zeros = join(dir, 'zeros');
  writeFileSync(zeros, Buffer.alloc(1 << 20));
  const short = join(dir, 'short');
  writeFileSync(short, Buffer.from([0x53, 0xef]));
  for (const fs of ['ext4', 'xfs', 'btrfs', 'f2fs']) {
    assert.equal(uuidFromSuperblock(zeros, fs), undefined, `${fs} on zeros`);
    assert.equal(uuidFromSuperblock(short, fs), undefined, `${fs} on a short file`);
    assert.equal(uuidFromSuperblock(join(dir, 'missing'), fs), undefined);
  }
  assert.equal(uuidFromSuperblock(zeros, 'vfat'), undefined);
});
