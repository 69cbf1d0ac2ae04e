// Reading a sidecar (src/carriers/sidecar.ts, regular-file.ts readSmallFileIfPresent) in a folder the
// walk holds, where the listing showed a regular file (so no lstat comes before the open). The listing is
// made to lie, as when a name is swapped between the listing and the read: what is there when it is
// opened decides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/cli.js';

const SIDECAR_MODULE = fileURLToPath(new URL('../../src/carriers/sidecar.js', import.meta.url));
const FS_PATH_MODULE = fileURLToPath(new URL('../../src/carriers/fs-path.js', import.meta.url));

/** Reads each name as a sidecar in a fresh process, with `dir` held and every name listed as a regular file. */
function readAll(dir: string, names: string[]): Record<string, unknown> {
  const script = `
    import { openSync, constants } from 'node:fs';
    import { readSidecar } from ${JSON.stringify(SIDECAR_MODULE)};
    import { PinnedDir } from ${JSON.stringify(FS_PATH_MODULE)};
    const dir = ${JSON.stringify(dir)};
    const names = ${JSON.stringify(names)};
    const held = new PinnedDir(openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY), dir + '/x');
    held.regularFiles = new Set(names);
    const got = {};
    for (const n of names) {
      try {
        const b = readSidecar(dir + '/' + n);
        got[n] = b === undefined ? 'none' : b.toString('hex');
      } catch (e) {
        got[n] = { code: e.code, message: e.message };
      }
    }
    held.release();
    console.log(JSON.stringify(got));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test(
  'a sidecar listed as a regular file is read whole; a FIFO, symlink, ' +
    'folder, oversized or missing one swapped in is refused or none',
  async (t) => {
    const dir = await tempDir(t);
    writeFileSync(join(dir, 'ok.sig'), Buffer.from('030204aabbccdd0000', 'hex'));
    writeFileSync(join(dir, 'empty.sig'), '');
    writeFileSync(join(dir, 'max.sig'), Buffer.alloc(65536, 1));
    writeFileSync(join(dir, 'big.sig'), '');
    truncateSync(join(dir, 'big.sig'), 65537);
    execFileSync('mkfifo', [join(dir, 'fifo.sig')]);
    symlinkSync('ok.sig', join(dir, 'link.sig'));
    execFileSync('mkdir', [join(dir, 'dir.sig')]);
    const names = ['ok.sig', 'empty.sig', 'max.sig', 'big.sig', 'fifo.sig', 'link.sig', 'dir.sig', 'gone.sig'];
    const got = readAll(dir, names);
    const p = (n: string): string => join(dir, n);
    assert.equal(got['ok.sig'], '030204aabbccdd0000');
    assert.equal(got['empty.sig'], '');
    assert.equal(
      (got['max.sig'] as string).length,
      65536 * 2,
      'a value of the largest size an xattr takes is read whole',
    );
    assert.deepEqual(got['big.sig'], {
      code: 'E2BIG',
      message: `${p('big.sig')}: sidecar is 65537 bytes, larger than the 65536-byte xattr limit`,
    });
    assert.deepEqual(got['fifo.sig'], {
      code: 'EINVAL',
      message: `${p('fifo.sig')}: sidecar is a FIFO, not a regular file`,
    });
    assert.deepEqual(got['link.sig'], {
      code: 'ELOOP',
      message: `${p('link.sig')}: sidecar is a symbolic link; not followed`,
    });
    assert.deepEqual(got['dir.sig'], {
      code: 'EINVAL',
      message: `${p('dir.sig')}: sidecar is a directory, not a regular file`,
    });
    assert.equal(got['gone.sig'], 'none');
  },
);

test('EACCES opening a sidecar: IMA named only when access(2) allows the read (an open-time refusal)', async () => {
  const { unreadableSidecar } = (await import(SIDECAR_MODULE)) as typeof import('../../src/carriers/sidecar.js');
  const atOpen = unreadableSidecar('/boot/vmlinuz.sig', true);
  assert.equal(atOpen.code, 'EACCES');
  assert.match(atOpen.message, /^\/boot\/vmlinuz\.sig: cannot read sidecar \/boot\/vmlinuz\.sig: permission denied on/);
  assert.match(atOpen.reason, /IMA policy may cover the sidecar itself: exclude sidecars from it or sign them/);
  assert.doesNotMatch(atOpen.message, /\n/);
  const bits = unreadableSidecar('/boot/vmlinuz.sig', false);
  assert.equal(bits.reason, 'cannot read sidecar /boot/vmlinuz.sig: permission denied (EACCES)');
});
