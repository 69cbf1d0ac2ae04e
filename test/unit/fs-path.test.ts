// How paths reach the kernel (src/carriers/fs-path.ts): descriptor paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { descriptorPath, encodeFsName, isDescriptorPath } from '../../src/carriers/fs-path.js';
import { temporaryOwner, temporaryPathFor } from '../../src/carriers/atomic-write.js';
import { tempDir } from '../helpers/cli.js';

test("descriptorPath names this process's descriptor and still reaches the file after a rename", async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 'f');
  writeFileSync(f, 'content');
  const fd = openSync(f, 'r');
  try {
    const p = descriptorPath(fd);
    assert.equal(p, `/proc/self/fd/${fd}`);
    assert.ok(isDescriptorPath(p));
    assert.ok(!isDescriptorPath(f));
    renameSync(f, join(dir, 'g'));
    assert.equal(readlinkSync(p), join(dir, 'g'));
    assert.equal(readFileSync(p, 'utf8'), 'content');
  } finally {
    closeSync(fd);
  }
});

test(
  'temporary names: within NAME_MAX whatever the name, ' + 'recognisable as ours, the name kept whole where it fits',
  () => {
    const cases: [string, boolean][] = [
      ['vmlinuz.sig', true],
      ['a'.repeat(70) + '.sig', true],
      ['a'.repeat(100) + '.sig', true],
      ['a'.repeat(251) + '.sig', false],
      ['é'.repeat(60) + '.sig', true],
      ['é'.repeat(125) + '.sig', false],
      ['日'.repeat(84) + '.sig', false],
      ['lat\udce9'.repeat(40) + '.sig', true],
      ['lat\udce9'.repeat(60) + '.sig', false],
    ];
    for (const [name, whole] of cases) {
      const tmp = temporaryPathFor(`/boot/efi/${name}`);
      const base = tmp.slice('/boot/efi/'.length);
      assert.ok(tmp.startsWith('/boot/efi/.'), tmp);
      assert.ok(encodeFsName(base).length <= 255, `${encodeFsName(base).length} bytes for ${name.length} units`);
      const owner = temporaryOwner(base);
      assert.equal(owner?.pid, process.pid, `recognised: ${base}`);
      assert.equal(owner!.target === name, whole, `name kept whole: ${whole} for ${name.slice(0, 12)}...`);
      assert.ok(name.startsWith(owner!.target), 'a shortened name is a prefix of the name');
    }
  },
);
