// How paths reach the kernel (src/carriers/fs-path.ts): descriptor paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { descriptorPath, isDescriptorPath } from '../../src/carriers/fs-path.js';
import { tempDir } from '../helpers/cli.js';

test('descriptorPath names this process\'s descriptor by PID and still reaches the file after a rename', async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 'f');
  writeFileSync(f, 'content');
  const fd = openSync(f, 'r');
  try {
    const p = descriptorPath(fd);
    assert.equal(p, `/proc/${process.pid}/fd/${fd}`, 'the PID form (/proc/self names this process here)');
    assert.ok(isDescriptorPath(p));
    assert.ok(!isDescriptorPath(f));
    renameSync(f, join(dir, 'g'));
    assert.equal(readlinkSync(p), join(dir, 'g'));
    assert.equal(readFileSync(p, 'utf8'), 'content');
  } finally {
    closeSync(fd);
  }
});
