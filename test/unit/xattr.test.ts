// The xattr calls (src/carriers/xattr.ts) on both backends: our descriptor calls
// (native/descriptor-calls.c) and the fs-xattr fallback through /proc/PID/fd paths.
// user.* on the temporary folder's filesystem (ext4 here), so no root needed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  constants as fsc,
  fstatSync,
  lstatSync,
  openSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  descriptorCalls,
  descriptorCallsBackend,
  errnoName,
  type DescriptorCalls,
} from '../../src/carriers/descriptor-calls.js';
import { fileFacts } from '../../src/carriers/regular-file.js';
import { setxattrStoresExactly } from '../../src/carriers/filesystem.js';
import fc from 'fast-check';
import { tempDir } from '../helpers/cli.js';
import { skipOrFail } from '../helpers/skip.js';

const XATTR_MODULE = fileURLToPath(new URL('../../src/carriers/xattr.js', import.meta.url));
const NATIVE_MODULE = fileURLToPath(new URL('../../src/carriers/descriptor-calls.js', import.meta.url));

/** Runs the same sequence of calls in a fresh process (the backend is chosen once per process) and returns what each call gave. */
function sequence(file: string, env: Record<string, string>): Record<string, unknown> {
  const script = `
    import { openSync } from 'node:fs';
    import { createXattrFd, getXattrFd, removeXattrFd, setXattrFd } from ${JSON.stringify(XATTR_MODULE)};
    import { descriptorCallsBackend } from ${JSON.stringify(NATIVE_MODULE)};
    const fd = openSync(${JSON.stringify(file)}, 'r');
    const hex = (b) => (b === undefined ? null : b.toString('hex'));
    const big = Buffer.alloc(3000, 0xab);
    const out = { backend: descriptorCallsBackend().name };
    const caught = (f) => { try { return f(); } catch (e) { return { code: e.code, message: e.message }; } };
    out.missing = hex(getXattrFd(fd, 'F', 'user.ima', 'ext4'));
    out.created = createXattrFd(fd, 'F', 'user.ima', Buffer.from('0301', 'hex'), 'ext4');
    out.createdAgain = createXattrFd(fd, 'F', 'user.ima', Buffer.from('0302', 'hex'), 'ext4');
    out.afterCreates = hex(getXattrFd(fd, 'F', 'user.ima', 'ext4'));
    setXattrFd(fd, 'F', 'user.ima', big, 'ext4');
    out.bigBack = getXattrFd(fd, 'F', 'user.ima', 'ext4').equals(big);
    out.removed = removeXattrFd(fd, 'F', 'user.ima', 'ext4');
    out.removedAgain = removeXattrFd(fd, 'F', 'user.ima', 'ext4');
    out.unknownNamespace = caught(() => setXattrFd(fd, 'F', 'nonsense.ima', big, 'ext4'));
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

for (const [backend, env] of [
  ['native', {}],
  ['fs-xattr', { IMA_SIDECAR_NATIVE: '0' }],
] as const) {
  test(`${backend}: read, create-only, replace, a 3000-byte value, remove; errors carry the errno`, async (t) => {
    if (backend === 'native' && !descriptorCalls())
      return skipOrFail(t, `native xattr calls not built (npm install builds them): ${descriptorCallsBackend().why}`);
    const dir = await tempDir(t);
    const file = join(dir, 'F');
    writeFileSync(file, 'content');
    const out = sequence(file, env);
    assert.equal(out.backend, backend);
    assert.equal(out.missing, null, 'no attribute: undefined, not an error');
    assert.equal(out.created, true);
    assert.equal(out.createdAgain, false, 'create-only never replaces');
    assert.equal(out.afterCreates, '0301');
    assert.equal(out.bigBack, true, 'a value larger than the native first buffer comes back whole');
    assert.equal(out.removed, true);
    assert.equal(out.removedAgain, false);
    assert.deepEqual(out.unknownNamespace, {
      code: 'ENOTSUP',
      message: 'F: filesystem ext4 does not support extended attributes',
    });
  });
}

/** Runs `body` with the native calls and a descriptor of a fresh file in a temporary folder, closed afterwards; skips when they are not built. */
async function withNativeOnFile(t: TestContext, body: (native: DescriptorCalls, fd: number) => void): Promise<void> {
  const native = descriptorCalls();
  if (!native)
    return skipOrFail(
      t,
      `native descriptor calls not built (npm install builds them): ${descriptorCallsBackend().why}`,
    );
  const dir = await tempDir(t);
  const file = join(dir, 'F');
  writeFileSync(file, 'x');
  const fd = openSync(file, 'r');
  try {
    body(native, fd);
  } finally {
    closeSync(fd);
  }
}

test('native calls: errno answers for a long name, an embedded NUL, a bad descriptor, an oversized value; TypeError for bad arguments', (t) =>
  withNativeOnFile(t, (native, fd) => {
    const table: [string, () => unknown, string][] = [
      ['a 256-byte name', () => native.get(fd, `user.${'n'.repeat(251)}`), 'ERANGE'],
      ['a 255-byte name that is not there', () => native.get(fd, `user.${'n'.repeat(250)}`), 'ENODATA'],
      ['an embedded NUL', () => native.set(fd, 'user.i\0ma', Buffer.from('x'), 0), 'EINVAL'],
      ['a closed descriptor', () => native.get(987654, 'user.ima'), 'EBADF'],
      ['a value over 64 KiB', () => native.set(fd, 'user.ima', Buffer.alloc(65537), 0), 'E2BIG'],
      [
        'replace-only without a value',
        () => native.set(fd, 'user.ima', Buffer.from('x'), native.XATTR_REPLACE),
        'ENODATA',
      ],
    ];
    for (const [what, call, code] of table) {
      const r = call();
      assert.equal(typeof r, 'number', what);
      assert.equal(errnoName(r as number), code, what);
    }
    for (const bad of [
      () => native.get(-1, 'user.ima'),
      () => (native.get as (...a: unknown[]) => unknown)('3', 'user.ima'),
      () => (native.set as (...a: unknown[]) => unknown)(fd, 'user.ima', 'not a buffer', 0),
      () => (native.remove as (...a: unknown[]) => unknown)(fd),
    ]) {
      assert.throws(bad, TypeError);
    }
    assert.equal(native.XATTR_CREATE, 1);
    assert.equal(native.XATTR_REPLACE, 2);
    assert.equal(errnoName(constants.errno.EOPNOTSUPP), 'ENOTSUP', 'one name for 95, the one Node uses');
  }));

test('native calls, any name and value: a value written reads back byte for byte; every refusal is an errno number, never a throw', (t) =>
  withNativeOnFile(t, (native, fd) => {
    const name = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => `user.${s}`),
      fc.string({ minLength: 1, maxLength: 300, unit: 'binary' }),
    );
    fc.assert(
      fc.property(name, fc.uint8Array({ maxLength: 5000 }), (n, bytes) => {
        const value = Buffer.from(bytes);
        const written = native.set(fd, n, value, 0);
        assert.equal(typeof written, 'number');
        if (written !== 0) {
          // What the kernel or the checks refused, by name: never a value written, never a throw.
          assert.ok(
            ['EINVAL', 'ERANGE', 'ENOTSUP', 'EPERM', 'ENOSPC', 'E2BIG'].includes(errnoName(written)),
            `${JSON.stringify(n)}: ${errnoName(written)}`,
          );
          return;
        }
        const back = native.get(fd, n);
        assert.ok(Buffer.isBuffer(back), `${JSON.stringify(n)}: read back ${String(back)}`);
        assert.ok(back.equals(value));
        assert.equal(native.remove(fd, n), 0);
        assert.equal(errnoName(native.get(fd, n) as number), 'ENODATA');
      }),
      { numRuns: 300 },
    );
  }));

test('native openAt and lstatAt in a held folder: the file itself, symlinks not followed, errno answers, TypeError for bad arguments', async (t) => {
  const native = descriptorCalls();
  if (!native) return skipOrFail(t, `native descriptor calls not built: ${descriptorCallsBackend().why}`);
  const dir = await tempDir(t);
  writeFileSync(join(dir, 'F'), 'content');
  symlinkSync('F', join(dir, 'L'));
  const dirfd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    const fd = native.openAt(dirfd, Buffer.from('F'), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    assert.ok(fd >= 0, `openAt F: ${fd}`);
    try {
      const st = fstatSync(fd);
      const out = new Float64Array(2);
      assert.equal(native.lstatAt(dirfd, Buffer.from('F'), out), 0);
      assert.deepEqual([out[0], out[1]], [st.dev, st.ino], 'the same device and inode as fstat of the opened file');
      assert.equal(native.lstatAt(dirfd, 'F', out), 0);
      assert.deepEqual([out[0], out[1]], [st.dev, st.ino], 'the name given as text: the same file');
      const byText = native.openAt(dirfd, 'F', fsc.O_RDONLY | fsc.O_NOFOLLOW);
      assert.ok(byText >= 0, `openAt 'F': ${byText}`);
      assert.equal(fstatSync(byText).ino, st.ino);
      closeSync(byText);
      assert.equal(native.lstatAt(dirfd, Buffer.from('L'), out), 0);
      assert.equal(out[1], lstatSync(join(dir, 'L')).ino, 'the symlink itself, not F');
      const table: [string, number, string][] = [
        ['a symlink under O_NOFOLLOW', -native.openAt(dirfd, Buffer.from('L'), fsc.O_RDONLY | fsc.O_NOFOLLOW), 'ELOOP'],
        ['a missing name', -native.openAt(dirfd, Buffer.from('nothing'), fsc.O_RDONLY), 'ENOENT'],
        ['a name with a NUL', -native.openAt(dirfd, Buffer.from('F\0x'), fsc.O_RDONLY), 'EINVAL'],
        ['an empty name', -native.openAt(dirfd, Buffer.alloc(0), fsc.O_RDONLY), 'EINVAL'],
        ['a missing name, lstatAt', native.lstatAt(dirfd, Buffer.from('nothing'), out), 'ENOENT'],
        ['not a folder', -native.openAt(fd, Buffer.from('F'), fsc.O_RDONLY), 'ENOTDIR'],
        [
          'a symlink under O_NOFOLLOW, name as text',
          -native.openAt(dirfd, 'L', fsc.O_RDONLY | fsc.O_NOFOLLOW),
          'ELOOP',
        ],
        ['a text name with a NUL', -native.openAt(dirfd, 'F\0x', fsc.O_RDONLY), 'EINVAL'],
        ['an empty text name', -native.openAt(dirfd, '', fsc.O_RDONLY), 'EINVAL'],
        ['a text name longer than any path', native.lstatAt(dirfd, 'é'.repeat(2048), out), 'EINVAL'],
        ['a missing text name, lstatAt', native.lstatAt(dirfd, 'nothing', out), 'ENOENT'],
      ];
      for (const [what, errno, code] of table) assert.equal(errnoName(errno), code, what);
    } finally {
      closeSync(fd);
    }
    for (const bad of [
      () => (native.openAt as (...a: unknown[]) => unknown)(dirfd, 42, 0),
      () => native.openAt(-1, Buffer.from('F'), 0),
      () => (native.lstatAt as (...a: unknown[]) => unknown)(dirfd, Buffer.from('F'), [0, 0]),
      () => native.lstatAt(dirfd, Buffer.from('F'), new Float64Array(1)),
    ]) {
      assert.throws(bad, TypeError);
    }
  } finally {
    closeSync(dirfd);
  }
});

test("native fstat: the facts Node's fstat gives (device, inode, mode, size, mtime in ms), EBADF for a closed descriptor, TypeError for bad arguments", async (t) => {
  const native = descriptorCalls();
  if (!native) return skipOrFail(t, `native descriptor calls not built: ${descriptorCallsBackend().why}`);
  const dir = await tempDir(t);
  const f = join(dir, 'F');
  writeFileSync(f, 'x'.repeat(1234));
  utimesSync(f, 1_700_000_000.123, 1_600_000_000.456789); // a fractional mtime: milliseconds as Node computes them
  const fd = openSync(f, fsc.O_RDONLY);
  const out = new Float64Array(5);
  try {
    assert.equal(native.fstat(fd, out), 0);
    const st = fstatSync(fd);
    assert.deepEqual([...out], [st.dev, st.ino, st.mode, st.size, st.mtimeMs]);
    assert.deepEqual(fileFacts(fd), { dev: st.dev, ino: st.ino, mode: st.mode, size: 1234, mtimeMs: st.mtimeMs });
    for (const bad of [
      () => native.fstat(fd, new Float64Array(4)),
      () => (native.fstat as (...a: unknown[]) => unknown)(fd, [0, 0, 0, 0, 0]),
      () => native.fstat(-1, out),
    ])
      assert.throws(bad, TypeError);
  } finally {
    closeSync(fd);
  }
  assert.equal(errnoName(native.fstat(fd, out)), 'EBADF');
  assert.throws(
    () => fileFacts(fd),
    (e: NodeJS.ErrnoException) => e.code === 'EBADF' && e.syscall === 'fstat',
  );
});

test('read-back policy: trusted only where the kernel itself stores the value (ext4, xfs, btrfs, tmpfs...), never for FUSE, network, overlay or unknown filesystems', () => {
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
});
