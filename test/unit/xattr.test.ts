// The xattr calls (src/carriers/xattr.ts): fs-xattr's synchronous calls on /proc/self/fd/N of the
// descriptor we hold. user.* on the temporary folder's filesystem, so no root needed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { setxattrStoresExactly } from '../../src/carriers/filesystem.js';
import { createXattrFd, getXattrFd, removeXattrFd, setXattrFd, XattrError } from '../../src/carriers/xattr.js';
import { tempDir } from '../helpers/cli.js';

/** Runs `body` with a descriptor of a fresh file in a temporary folder, closed afterwards. */
async function withFile(t: TestContext, body: (fd: number) => void): Promise<void> {
  const dir = await tempDir(t);
  const file = join(dir, 'F');
  writeFileSync(file, 'content');
  const fd = openSync(file, 'r');
  try {
    body(fd);
  } finally {
    closeSync(fd);
  }
}

/** The errno code of a refused call, or a failure if it threw anything but an XattrError. */
function refusal(call: () => unknown): string | undefined {
  try {
    call();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof XattrError, `not an XattrError: ${String(e)}`);
    return e.code;
  }
}

test('read, create-only, replace, a 3000-byte value, remove', (t) =>
  withFile(t, (fd) => {
    const big = Buffer.alloc(3000, 0xab);
    assert.equal(getXattrFd(fd, 'F', 'user.ima', 'ext4'), undefined, 'no attribute: undefined, not an error');
    assert.equal(createXattrFd(fd, 'F', 'user.ima', Buffer.from('0301', 'hex'), 'ext4'), true);
    assert.equal(createXattrFd(fd, 'F', 'user.ima', Buffer.from('0302', 'hex'), 'ext4'), false, 'never replaces');
    assert.equal(getXattrFd(fd, 'F', 'user.ima', 'ext4')?.toString('hex'), '0301');
    setXattrFd(fd, 'F', 'user.ima', big, 'ext4');
    assert.ok(getXattrFd(fd, 'F', 'user.ima', 'ext4')?.equals(big));
    assert.equal(removeXattrFd(fd, 'F', 'user.ima', 'ext4'), true);
    assert.equal(removeXattrFd(fd, 'F', 'user.ima', 'ext4'), false);
  }));

test('create-only looks for its own name: other attributes, or one whose name it begins, do not stop it', (t) =>
  withFile(t, (fd) => {
    setXattrFd(fd, 'F', 'user.other', Buffer.from('01', 'hex'), 'ext4');
    setXattrFd(fd, 'F', 'user.imax', Buffer.from('02', 'hex'), 'ext4');
    assert.equal(createXattrFd(fd, 'F', 'user.ima', Buffer.from('0301', 'hex'), 'ext4'), true);
    assert.equal(getXattrFd(fd, 'F', 'user.ima', 'ext4')?.toString('hex'), '0301');
    assert.equal(createXattrFd(fd, 'F', 'user.ima', Buffer.from('0302', 'hex'), 'ext4'), false);
    const closed = (): unknown => createXattrFd(987654, 'F', 'user.ima', Buffer.from('0302', 'hex'), 'ext4');
    assert.equal(refusal(closed), 'ENOENT', 'the listing fails as a read does');
  }));

test('refusals are XattrErrors carrying the errno and a reason a person can act on', (t) =>
  withFile(t, (fd) => {
    const table: [string, () => unknown, string][] = [
      ['an unknown namespace', () => setXattrFd(fd, 'F', 'nonsense.ima', Buffer.from('x'), 'ext4'), 'ENOTSUP'],
      ['a 256-byte name', () => getXattrFd(fd, 'F', `user.${'n'.repeat(251)}`, 'ext4'), 'ERANGE'],
      ['a value over 64 KiB', () => setXattrFd(fd, 'F', 'user.ima', Buffer.alloc(65537), 'ext4'), 'E2BIG'],
      ['a closed descriptor', () => getXattrFd(987654, 'F', 'user.ima', 'ext4'), 'ENOENT'],
    ];
    for (const [what, call, code] of table) assert.equal(refusal(call), code, what);
    try {
      setXattrFd(fd, 'F', 'nonsense.ima', Buffer.from('x'), 'ext4');
    } catch (e) {
      assert.equal((e as Error).message, 'F: filesystem ext4 does not support extended attributes');
    }
  }));

test('any name and value: a value written reads back byte for byte; every refusal is an XattrError', (t) =>
  withFile(t, (fd) => {
    const name = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => `user.${s}`),
      fc.string({ minLength: 1, maxLength: 300 }),
    );
    fc.assert(
      fc.property(name, fc.uint8Array({ maxLength: 5000 }), (n, bytes) => {
        const value = Buffer.from(bytes);
        const refused = refusal(() => setXattrFd(fd, 'F', n, value, 'ext4'));
        if (refused !== undefined) {
          assert.ok(
            ['EINVAL', 'ERANGE', 'ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'ENOSPC', 'E2BIG'].includes(refused),
            `${JSON.stringify(n)}: ${refused}`,
          );
          return;
        }
        assert.ok(getXattrFd(fd, 'F', n, 'ext4')?.equals(value), JSON.stringify(n));
        assert.equal(removeXattrFd(fd, 'F', n, 'ext4'), true);
        assert.equal(getXattrFd(fd, 'F', n, 'ext4'), undefined);
      }),
      { numRuns: 300 },
    );
  }));

test(
  'read-back policy: trusted only where the kernel itself stores the value (ext4, ' +
    'xfs, btrfs, tmpfs...), never for FUSE, network, overlay or unknown filesystems',
  () => {
    const table: [string, boolean][] = [
      ['ext4', true],
      ['ext3', true],
      ['ext2', true],
      ['xfs', true],
      ['btrfs', true],
      ['tmpfs', true],
      ['f2fs', true],
      ['fuse', false],
      ['fuse.fusefat', false],
      ['fuseblk', false],
      ['nfs', false],
      ['cifs', false],
      ['smb2', false],
      ['v9fs', false],
      ['overlay', false],
      ['zfs', false],
      ['0x12345678', false],
      ['', false],
    ];
    for (const [fs, exact] of table) assert.equal(setxattrStoresExactly(fs), exact, fs);
  },
);
