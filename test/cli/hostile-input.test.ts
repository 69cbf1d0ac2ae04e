// Hostile input (issue 7): every malformed sidecar, odd target, bad key or certificate gives one clear line
// naming the file and the reason, a non-zero exit, and changes nothing on disk (checked with getfattr and a
// snapshot of the directory); odd names work; symlinks are never written through, not even when one is
// swapped in while the run is under way (a directory in the middle of a path, or the file itself).
//
// Runs on the temp directory's filesystem (ext4 here). As root it uses security.ima, as other users
// user.ima; the device and EACCES cases need root (mknod, and a drop to nobody), else skipOrFail.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { BIN, fixture, getfattrHex, loadManifest, runCli, show, tempDir, type RunResult } from '../helpers/cli.js';
import { haveCommand, isRoot, skipOrFail } from '../helpers/skip.js';
import { nobodyIds, runAsNobody } from '../helpers/mounts.js';
import { processTree } from '../../src/ops/tree.js';
import { signFile } from '../../src/ops/sign.js';
import { loadPrivateKey } from '../../src/crypto/keys.js';
import { hashAlgoByName } from '../../src/codec/hash-algo.js';
import { openTarget, closeTarget, writeTargetXattr } from '../../src/carriers/target.js';
import { Run } from '../../src/carriers/run.js';
import { getXattrFd, setXattrFd } from '../../src/carriers/xattr.js';

const KEY = (name: string) => fixture(`keys/${name}`);
const XATTR = isRoot() ? 'security.ima' : 'user.ima';

function ready(t: TestContext, needs: { root?: boolean } = {}): boolean {
  if (!loadManifest() || !existsSync(KEY('rsa2048.key.pem'))) {
    skipOrFail(t, 'the golden fixtures are missing');
    return false;
  }
  if (!haveCommand('getfattr') || !haveCommand('setfattr')) {
    skipOrFail(t, 'needs getfattr and setfattr (attr)');
    return false;
  }
  if (needs.root && !isRoot()) {
    skipOrFail(t, 'needs root');
    return false;
  }
  return true;
}

const getfattr = (path: string, name = XATTR): string | undefined => getfattrHex(path, name);

function setfattr(path: string, hex: string, name = XATTR): void {
  const r = spawnSync('setfattr', ['-n', name, '-v', `0x${hex}`, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`setfattr ${path}: ${r.stderr}`);
}

/** Everything observable about a directory tree: names, kinds, modes, content hashes, link targets, xattrs. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[r] = `link ${readFileSyncLink(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${st.mode.toString(8)}`;
        walk(p, r);
      } else if (st.isFile()) {
        let content = '(unreadable)';
        try {
          content = createHash('sha256').update(readFileSync(p)).digest('hex');
        } catch {
          /* mode 000 as non-root */
        }
        out[r] = `file ${st.mode.toString(8)} ${st.size} ${content} xattr=${getfattr(p) ?? '-'} mtime=${st.mtimeMs}`;
      } else out[r] = `special ${st.mode.toString(8)} rdev=${st.rdev}`;
    }
  };
  walk(dir, '');
  return out;
}
function readFileSyncLink(p: string): string {
  return spawnSync('readlink', [p], { encoding: 'utf8' }).stdout.trim();
}

/** The lines a run wrote on stderr (without the empty tail). */
function lines(s: string): string[] {
  return s.split('\n').filter((l) => l !== '');
}

/** One clear line: exactly one line on stderr, no stack trace, nothing that looks like an internal error. */
function assertOneLine(r: RunResult, expect: { status: number; pattern: RegExp }, what: string): void {
  assert.equal(r.status, expect.status, `${what}: ${show(r)}`);
  const err = lines(r.stderr);
  assert.equal(err.length, 1, `${what}: expected one line on stderr\n${show(r)}`);
  assert.match(err[0]!, expect.pattern, `${what}: ${show(r)}`);
  assert.doesNotMatch(r.stderr, /^\s+at |internal error|TypeError|RangeError|Error:/m, `${what}: ${show(r)}`);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

/** 0x04 sha256 digest value of some content, as hex. */
function digestValueHex(content: Buffer | string): string {
  return `0404${sha256(content).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------------

describe(
  'malformed sidecars: import refuses with one line naming the file and the reason, and changes nothing',
  { concurrency: 4 },
  () => {
    const CONTENT = 'the payload\n';

    /** The valid rsa2048 sidecar of CONTENT (265 bytes), made by the tool itself (once). */
    let made: Buffer | undefined;
    async function goodSidecar(t: TestContext): Promise<Buffer> {
      if (made) return made;
      const dir = await tempDir(t);
      writeFileSync(join(dir, 'f'), CONTENT);
      const r = await runCli([
        'sign',
        '-q',
        '--key',
        KEY('rsa2048.key.pem'),
        '--cert',
        KEY('rsa2048.crt.pem'),
        join(dir, 'f'),
      ]);
      assert.equal(r.status, 0, show(r));
      const sig = readFileSync(join(dir, 'f.sig'));
      assert.equal(sig.length, 265);
      made = sig;
      return sig;
    }

    function withSize(good: Buffer, size: number): Buffer {
      const b = Buffer.from(good);
      b.writeUInt16BE(size, 7);
      return b;
    }

    type Maker = (good: Buffer, sidecar: string) => void;
    const bytes =
      (f: (good: Buffer) => Buffer): Maker =>
      (good, p) =>
        writeFileSync(p, f(good));
    const cases: { name: string; make: Maker; reason: RegExp; root?: boolean }[] = [
      {
        name: 'empty',
        make: bytes(() => Buffer.alloc(0)),
        reason: /malformed sidecar .*f\.sig: empty value; nothing written$/,
      },
      {
        name: 'shorter than the header',
        make: bytes((g) => g.subarray(0, 5)),
        reason: /malformed sidecar .*: signature value is 5 bytes, shorter than its 9-byte header/,
      },
      {
        name: 'header only',
        make: bytes((g) => g.subarray(0, 9)),
        reason: /malformed sidecar .*: signature value is 9 bytes, shorter than its 9-byte header/,
      },
      {
        name: 'truncated',
        make: bytes((g) => g.subarray(0, 100)),
        reason: /malformed sidecar .*: truncated: header says 256 signature bytes, value holds 91/,
      },
      {
        name: 'sig_size larger than the length',
        make: bytes((g) => withSize(g, 257)),
        reason: /truncated: header says 257 signature bytes, value holds 256/,
      },
      {
        name: 'sig_size smaller than the length',
        make: bytes((g) => withSize(g, 200)),
        reason: /56 trailing bytes after the 200-byte signature/,
      },
      {
        name: 'trailing bytes',
        make: bytes((g) => Buffer.concat([g, Buffer.of(0)])),
        reason: /1 trailing bytes after the 256-byte signature/,
      },
      {
        name: 'unknown type 0x07',
        make: bytes((g) => Buffer.concat([Buffer.of(0x07), g.subarray(1)])),
        reason: /unknown value type 0x07/,
      },
      {
        name: 'unknown type 0xff',
        make: bytes((g) => Buffer.concat([Buffer.of(0xff), g.subarray(1)])),
        reason: /unknown value type 0xff/,
      },
      {
        name: 'EVM type 0x02 (HMAC)',
        make: bytes((g) => Buffer.concat([Buffer.of(0x02), g.subarray(1)])),
        reason: /type 0x02 .* belongs in security\.evm/,
      },
      {
        name: 'EVM type 0x05 (portable)',
        make: bytes((g) => Buffer.concat([Buffer.of(0x05), g.subarray(1)])),
        reason: /type 0x05 .* belongs in security\.evm/,
      },
      {
        name: 'unknown version 1',
        make: bytes((g) => Buffer.concat([Buffer.of(0x03, 0x01), g.subarray(2)])),
        reason: /unknown signature version 1/,
      },
      {
        name: 'unknown version 4',
        make: bytes((g) => Buffer.concat([Buffer.of(0x03, 0x04), g.subarray(2)])),
        reason: /unknown signature version 4/,
      },
      {
        name: 'hash algorithm id out of range',
        make: bytes((g) => Buffer.concat([Buffer.of(0x03, 0x02, 0x40), g.subarray(3)])),
        reason: /hash algorithm id 64 is out of range/,
      },
      {
        name: 'digest with an out-of-range algorithm',
        make: bytes(() => Buffer.concat([Buffer.of(0x04, 0xfe), Buffer.alloc(32)])),
        reason: /hash algorithm id 254 is out of range/,
      },
      // streebog256 (18): a valid id the kernel knows, but Node's OpenSSL cannot compute it.
      {
        name: 'signature whose hash algorithm cannot be computed here',
        make: bytes((g) => Buffer.concat([Buffer.of(0x03, 0x02, 18), g.subarray(3)])),
        reason: /hash algorithm streebog256 cannot be computed here; nothing written/,
      },
      {
        name: 'digest whose hash algorithm cannot be computed here',
        make: bytes(() => Buffer.concat([Buffer.of(0x04, 18), Buffer.alloc(32, 1)])),
        reason: /hash algorithm streebog256 cannot be computed here; nothing written/,
      },
      {
        name: 'digest that does not match the file',
        make: bytes(() => Buffer.from(digestValueHex('other content'), 'hex')),
        reason: /digest mismatch.*; nothing written/,
      },
      {
        name: 'over 64 KiB',
        make: bytes((g) => Buffer.concat([g, Buffer.alloc(65536)])),
        reason: /sidecar is 65801 bytes, larger than the 65536-byte xattr limit/,
      },
      {
        name: 'a FIFO (must not hang)',
        make: (_g, p) => {
          const r = spawnSync('mkfifo', [p]);
          assert.equal(r.status, 0);
        },
        reason: /sidecar is a FIFO, not a regular file/,
      },
      {
        name: 'a character device',
        root: true,
        make: (_g, p) => {
          const r = spawnSync('mknod', [p, 'c', '1', '3'], { encoding: 'utf8' });
          assert.equal(r.status, 0, r.stderr);
        },
        reason: /sidecar is a character device, not a regular file/,
      },
      { name: 'a directory', make: (_g, p) => mkdirSync(p), reason: /sidecar is a directory, not a regular file/ },
      {
        name: 'a symlink to /etc/passwd',
        make: (_g, p) => symlinkSync('/etc/passwd', p),
        reason: /sidecar is a symbolic link; not followed/,
      },
      {
        name: 'a symlink to a valid sidecar',
        make: (g, p) => (writeFileSync(`${p}.real`, g), symlinkSync(`${p}.real`, p)),
        reason: /sidecar is a symbolic link; not followed/,
      },
    ];

    for (const c of cases) {
      test(c.name, async (t) => {
        if (!ready(t, { root: c.root })) return;
        const good = await goodSidecar(t);
        const dir = await tempDir(t);
        const f = join(dir, 'f');
        writeFileSync(f, CONTENT);
        // The xattr already holds a valid value; the import must leave it alone.
        const before = digestValueHex(CONTENT);
        setfattr(f, before);
        c.make(good, `${f}.sig`);
        const snap = snapshot(dir);
        const r = await runCli(['import', '--xattr', XATTR, f], { timeoutMs: 20_000 });
        assert.equal(r.signal, null, `killed (hung?): ${show(r)}`);
        assertOneLine(
          r,
          { status: 1, pattern: new RegExp(`^${f.replace(/[/.]/g, '\\$&')}: (invalid|failed): .*${c.reason.source}`) },
          c.name,
        );
        assert.equal(getfattr(f), before, 'the xattr changed');
        assert.deepEqual(snapshot(dir), snap, 'the directory changed');
      });
    }

    test(
      'all of them in one tree, through import -r, status -r ' +
        'and verify -r: one line each, exit 1, nothing changed',
      async (t) => {
        if (!ready(t)) return;
        const good = await goodSidecar(t);
        const dir = await tempDir(t);
        const usable = cases.filter((c) => !c.root || isRoot());
        usable.forEach((c, i) => {
          mkdirSync(join(dir, `c${i}`));
          const f = join(dir, `c${i}`, 'f');
          writeFileSync(f, CONTENT);
          setfattr(f, digestValueHex(CONTENT));
          c.make(good, `${f}.sig`);
        });
        const snap = snapshot(dir);
        const imp = await runCli(['import', '-r', '--xattr', XATTR, dir], { timeoutMs: 30_000 });
        assert.equal(imp.status, 1, show(imp));
        const err = lines(imp.stderr);
        // One line per case, then the summary.
        usable.forEach((c, i) => {
          const mine = err.filter((l) => l.startsWith(`${join(dir, `c${i}`, 'f')}: `));
          assert.equal(mine.length, 1, `${c.name}: ${show(imp)}`);
          assert.match(mine[0]!, c.reason, c.name);
        });
        // + the symlinked case's f.sig.real
        assert.match(err.at(-1)!, new RegExp(`^${usable.length + 1} files: `), show(imp));
        assert.deepEqual(snapshot(dir), snap, 'the tree changed');
        for (const cmd of [
          ['status', '-r', '--xattr', XATTR],
          ['verify', '-r', '--from', 'sidecar', '--cert', KEY('rsa2048.crt.pem')],
        ]) {
          const r = await runCli([...cmd, dir], { timeoutMs: 30_000 });
          assert.equal(r.status, 1, show(r));
          assert.doesNotMatch(r.stderr, /internal error|^\s+at /m, show(r));
          assert.deepEqual(snapshot(dir), snap, `the tree changed (${cmd[0]})`);
        }
      },
    );

    test('unreadable (EACCES, as nobody with user.ima)', async (t) => {
      if (!ready(t, { root: true })) return;
      const good = await goodSidecar(t);
      const dir = await tempDir(t);
      chmodSync(dir, 0o755);
      const f = join(dir, 'f');
      writeFileSync(f, CONTENT);
      const { uid, gid } = nobodyIds();
      chownSync(f, uid, gid); // nobody may write user.ima on its own file
      writeFileSync(`${f}.sig`, good, { mode: 0o000 });
      chmodSync(`${f}.sig`, 0o000);
      setfattr(f, digestValueHex(CONTENT), 'user.ima');
      const snap = snapshot(dir);
      const r = await runAsNobody(process.execPath, [BIN, 'import', '--xattr', 'user.ima', f]);
      assertOneLine(
        r as RunResult,
        { status: 1, pattern: /f: invalid: cannot read sidecar \/\S+\/f\.sig: permission denied \(EACCES\)$/ },
        'EACCES',
      );
      // Mode 000 also stops access(2): plain permissions, not the open-time refusal IMA's appraisal makes.
      assert.doesNotMatch(r.stderr, /IMA/, 'a chmod 000 sidecar is not blamed on IMA');
      assert.equal(getfattr(f, 'user.ima'), digestValueHex(CONTENT));
      assert.deepEqual(snapshot(dir), snap);
    });

    test('a valid sidecar is imported (the control case)', async (t) => {
      if (!ready(t)) return;
      const good = await goodSidecar(t);
      const dir = await tempDir(t);
      const f = join(dir, 'f');
      writeFileSync(f, CONTENT);
      writeFileSync(`${f}.sig`, good);
      const r = await runCli(['import', '--xattr', XATTR, f]);
      assert.equal(r.status, 0, show(r));
      assert.equal(getfattr(f), good.toString('hex'));
    });
  },
);

// ---------------------------------------------------------------------------------------------------

describe('targets', { concurrency: 3 }, () => {
  const signArgs = ['--key', KEY('rsa2048.key.pem'), '--cert', KEY('rsa2048.crt.pem')];

  test('missing, a directory without -r, a FIFO: one line each, exit 1, nothing written, no hang', async (t) => {
    if (!ready(t)) return;
    const dir = await tempDir(t);
    mkdirSync(join(dir, 'sub'));
    assert.equal(spawnSync('mkfifo', [join(dir, 'fifo')]).status, 0);
    const snap = snapshot(dir);
    const cases: [string, RegExp][] = [
      [join(dir, 'missing'), /missing: skipped: no such file or directory \(ENOENT\)$/],
      [join(dir, 'missing.sig'), /missing\.sig: skipped: no such file or directory$/],
      [join(dir, 'sub'), /sub: skipped: is a directory \(use -r to descend\)$/],
      [join(dir, 'fifo'), /fifo: skipped: is a FIFO, not a regular file$/],
    ];
    for (const cmd of [
      ['sign', ...signArgs, '--to', 'both', '--xattr', XATTR],
      ['import', '--xattr', XATTR],
      ['export', '--xattr', XATTR],
      ['verify', '--cert', KEY('rsa2048.crt.pem')],
      ['clear', '--force', '--xattr', XATTR],
      ['hash', '--to', 'sidecar'],
    ]) {
      // Alone, each is one line and exit 1 (the first); together, one line each and the summary.
      const alone = await runCli([...cmd, cases[0]![0]], { timeoutMs: 20_000 });
      assertOneLine(alone, { status: 1, pattern: cases[0]![1] }, `${cmd[0]} alone`);
      const r = await runCli([...cmd, ...cases.map(([p]) => p)], { timeoutMs: 20_000 });
      assert.equal(r.signal, null, `hung: ${cmd[0]}`);
      assert.equal(r.status, 1, show(r));
      const err = lines(r.stderr);
      assert.equal(err.length, cases.length + 1, show(r));
      cases.forEach(([, pattern], i) => assert.match(err[i]!, pattern, `${cmd[0]}: ${show(r)}`));
      assert.doesNotMatch(r.stderr, /internal error|^\s+at /m);
    }
    assert.deepEqual(snapshot(dir), snap);
  });

  test('a FIFO inside a walked tree is passed over, never opened (no hang)', async (t) => {
    if (!ready(t)) return;
    const dir = await tempDir(t);
    writeFileSync(join(dir, 'a'), 'a');
    assert.equal(spawnSync('mkfifo', [join(dir, 'fifo')]).status, 0);
    assert.equal(spawnSync('mkfifo', [join(dir, 'a.sig')]).status, 0);
    const r = await runCli(['sign', '-r', ...signArgs, dir], { timeoutMs: 20_000 });
    assert.equal(r.signal, null, show(r));
    // a.sig is a FIFO where the sidecar goes: refused, not replaced and not opened.
    assert.equal(r.status, 1, show(r));
    assert.match(
      r.stderr,
      /a: failed: cannot write sidecar|a: failed: sidecar exists and is not a regular file/,
      show(r),
    );
    assert.ok(lstatSync(join(dir, 'a.sig')).isFIFO());
    assert.doesNotMatch(r.stdout + r.stderr, /fifo/);
  });

  test('a symlinked target is never written through: sign, import, clear, export, hash', async (t) => {
    if (!ready(t)) return;
    const dir = await tempDir(t);
    const victimDir = await tempDir(t);
    const victim = join(victimDir, 'victim');
    writeFileSync(victim, 'precious');
    setfattr(victim, digestValueHex('precious'));
    symlinkSync(victim, join(dir, 'link'));
    const good = readFileSync(fixture('golden/small.bin.rsa2048-sha256.sig'));
    writeFileSync(join(dir, 'link.sig'), good);
    const snapVictim = snapshot(victimDir);
    const snapDir = snapshot(dir);
    for (const cmd of [
      ['sign', ...signArgs, '--to', 'both', '--xattr', XATTR],
      ['import', '--force', '--xattr', XATTR],
      ['clear', '--force', '--xattr', XATTR],
      ['export', '--force', '--xattr', XATTR],
      ['hash', '--to', 'xattr', '--xattr', XATTR],
    ]) {
      const r = await runCli([...cmd, join(dir, 'link')]);
      assertOneLine(r, { status: 1, pattern: /link: skipped: is a symbolic link; not followed$/ }, cmd[0]!);
    }
    // In a walk, a symlink is reported and passed over (not a failure), and still not written through.
    for (const cmd of [
      ['sign', ...signArgs, '--to', 'both', '--xattr', XATTR],
      ['clear', '--force', '--xattr', XATTR],
    ]) {
      const w = await runCli([...cmd, '-r', dir]);
      assert.match(w.stderr + w.stdout, /link: skipped: is a symbolic link; not followed/, show(w));
    }
    assert.deepEqual(snapshot(victimDir), snapVictim, 'the symlink target changed');
    assert.deepEqual(snapshot(dir), snapDir);
    assert.equal(existsSync(`${victim}.sig`), false);
  });

  test('a symlink, FIFO or directory where the sidecar goes is never written through or replaced', async (t) => {
    if (!ready(t)) return;
    const dir = await tempDir(t);
    const victimDir = await tempDir(t);
    writeFileSync(join(victimDir, 'victim'), 'precious');
    for (const n of ['a', 'b', 'c']) writeFileSync(join(dir, n), n);
    symlinkSync(join(victimDir, 'victim'), join(dir, 'a.sig'));
    assert.equal(spawnSync('mkfifo', [join(dir, 'b.sig')]).status, 0);
    mkdirSync(join(dir, 'c.sig'));
    const snapVictim = snapshot(victimDir);
    const snapDir = snapshot(dir);
    const expect: Record<string, RegExp> = {
      a: /a: failed: sidecar is a symbolic link; not written through$/,
      b: /b: failed: sidecar exists and is not a regular file$/,
      c: /c: failed: sidecar exists and is not a regular file$/,
    };
    for (const [n, pattern] of Object.entries(expect)) {
      const r = await runCli(['sign', ...signArgs, join(dir, n)], { timeoutMs: 20_000 });
      assertOneLine(r, { status: 1, pattern }, `sign ${n}`);
      const h = await runCli(['hash', '--to', 'sidecar', join(dir, n)], { timeoutMs: 20_000 });
      assertOneLine(h, { status: 1, pattern }, `hash ${n}`);
    }
    // export over them: refused even with --force.
    for (const n of ['a', 'b', 'c']) setfattr(join(dir, n), digestValueHex(n));
    const snap2 = snapshot(dir);
    for (const n of ['a', 'b', 'c']) {
      const r = await runCli(['export', '--force', '--xattr', XATTR, join(dir, n)], { timeoutMs: 20_000 });
      assert.equal(r.status, 1, show(r));
      assert.equal(lines(r.stderr).length, 1, show(r));
      assert.match(
        r.stderr,
        new RegExp(
          `^${join(dir, n).replace(/[/.]/g, '\\$&')}: (conflict|failed): .*(symbolic link|not a regular file)`,
        ),
        show(r),
      );
    }
    assert.deepEqual(snapshot(victimDir), snapVictim);
    assert.deepEqual(snapshot(dir), snap2);
    assert.ok(snapDir);
  });

  test(
    'names with spaces, newlines, escapes, non-UTF-8 bytes and 240 bytes ' +
      'work through import, export, status and clear, printed one line each',
    async (t) => {
      if (!ready(t)) return;
      const dir = await tempDir(t);
      const raw = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s) : s);
      const names: Buffer[] = [
        raw('with space'),
        raw('new\nline'),
        raw('esc\x1b[31mred'),
        raw('c1\u009bcsi'),
        Buffer.concat([raw('bad-'), Buffer.of(0xff), raw('-name')]),
        Buffer.concat([raw('lat'), Buffer.of(0xe9)]),
        Buffer.concat([raw('trunc-'), Buffer.of(0xe2, 0x82)]), // a cut UTF-8 sequence
        raw('x'.repeat(240)), // the sidecar is 244 bytes; a temporary name must still fit in 255
      ];
      const dirB = Buffer.from(dir + '/');
      for (const n of names) writeFileSync(Buffer.concat([dirB, n]), n);
      const sign = await runCli(['sign', '-r', ...signArgs, dir]);
      assert.equal(sign.status, 0, show(sign));
      for (const n of names)
        assert.ok(existsSync(Buffer.concat([dirB, n, raw('.sig')])), `no sidecar for ${n.toString('hex')}`);
      const outputs: RunResult[] = [sign];
      const imp = await runCli(['import', '-r', '--xattr', XATTR, dir]);
      assert.equal(imp.status, 0, show(imp));
      assert.equal(lines(imp.stdout).length, names.length, show(imp));
      outputs.push(imp);
      const st = await runCli(['status', '-r', '--xattr', XATTR, '--cert', KEY('rsa2048.crt.pem'), dir]);
      assert.equal(st.status, 0, show(st));
      assert.equal(lines(st.stdout).filter((l) => l.startsWith('in-sync')).length, names.length, show(st));
      outputs.push(st);
      const clr = await runCli(['clear', '-r', '--xattr', XATTR, dir]);
      assert.equal(clr.status, 0, show(clr));
      outputs.push(clr);
      // Import again, then export into a mirror tree: the same sidecars under the same raw names.
      assert.equal((await runCli(['import', '-r', '--xattr', XATTR, dir])).status, 0);
      const mirror = await tempDir(t);
      const exp = await runCli(['export', '-r', '--xattr', XATTR, '--dest', mirror, dir]);
      assert.equal(exp.status, 0, show(exp));
      outputs.push(exp);
      for (const n of names) {
        const a = readFileSync(Buffer.concat([dirB, n, raw('.sig')]));
        const b = readFileSync(Buffer.concat([Buffer.from(mirror + '/'), n, raw('.sig')]));
        assert.ok(a.equals(b), `mirror sidecar differs for ${n.toString('hex')}`);
      }
      // Output: one line per file, nothing raw that drives a terminal, non-UTF-8 bytes as \xNN.
      for (const r of outputs) {
        const text = r.stdout + r.stderr;
        assert.doesNotMatch(
          text,
          // eslint-disable-next-line no-control-regex -- the test is looking for raw control characters
          /[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f\ufffd]/,
          `raw control character or replacement character in output:\n${show(r)}`,
        );
      }
      assert.match(sign.stdout, /new\\x0aline: signed/);
      assert.match(sign.stdout, /esc\\x1b\[31mred: signed/);
      assert.match(sign.stdout, /c1\\u009bcsi: signed/);
      assert.match(sign.stdout, /bad-\\xff-name: signed/);
      assert.match(sign.stdout, /lat\\xe9: signed/);
      assert.match(sign.stdout, /trunc-\\xe2\\x82: signed/);
    },
  );
});

// ---------------------------------------------------------------------------------------------------

describe('keys and certificates: exit 2, one line, no stack trace, nothing written', { concurrency: 4 }, () => {
  const k = KEY;
  const cases: {
    name: string;
    args: (dir: string) => string[];
    env?: Record<string, string>;
    pattern: RegExp;
    setup?: (dir: string) => void;
  }[] = [
    {
      name: 'garbage key',
      setup: (d) => writeFileSync(join(d, 'garbage.pem'), createHash('sha512').update('x').digest()),
      args: (d) => ['--key', join(d, 'garbage.pem')],
      pattern: /garbage\.pem: not a private key in PEM or DER/,
    },
    {
      name: 'garbage PEM key',
      setup: (d) => writeFileSync(join(d, 'g.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
      args: (d) => ['--key', join(d, 'g.pem')],
      pattern: /g\.pem: not a private key in PEM or DER/,
    },
    {
      name: 'empty key',
      setup: (d) => writeFileSync(join(d, 'empty.pem'), ''),
      args: (d) => ['--key', join(d, 'empty.pem')],
      pattern: /empty\.pem: not a private key/,
    },
    {
      name: 'missing key',
      args: (d) => ['--key', join(d, 'nope.pem')],
      pattern: /nope\.pem: cannot read private key: no such file or directory \(ENOENT\)/,
    },
    {
      name: 'a directory as key',
      args: (d) => ['--key', d],
      pattern: /cannot read private key: is a directory \(EISDIR\)/,
    },
    // 'wrong' happens to decrypt to valid padding (about one password in 256 does): OpenSSL then says "unsupported".
    {
      name: 'wrong password (bad padding)',
      env: { IMA_SIDECAR_KEY_PASSWORD: 'nope' },
      args: () => ['--key', k('rsa2048.enc.pem')],
      pattern: /rsa2048\.enc\.pem: wrong password for the encrypted key$/,
    },
    {
      name: 'wrong password (valid padding)',
      env: { IMA_SIDECAR_KEY_PASSWORD: 'wrong' },
      args: () => ['--key', k('rsa2048.enc.pem')],
      pattern: /rsa2048\.enc\.pem: wrong password for the encrypted key$/,
    },
    {
      name: 'wrong password from --pass-file',
      setup: (d) => writeFileSync(join(d, 'pass'), 'wrong\n'),
      args: (d) => ['--key', k('rsa2048.enc.pem'), '--pass-file', join(d, 'pass')],
      pattern: /wrong password for the encrypted key$/,
    },
    {
      name: 'no password for an encrypted key',
      args: () => ['--key', k('rsa2048.enc.pem')],
      pattern: /rsa2048\.enc\.pem: the key is encrypted; set IMA_SIDECAR_KEY_PASSWORD or use --pass-file/,
    },
    {
      name: 'missing --pass-file',
      args: (d) => ['--key', k('rsa2048.enc.pem'), '--pass-file', join(d, 'nope')],
      pattern: /nope: cannot read password file: no such file or directory/,
    },
    {
      name: 'a certificate as the key',
      args: () => ['--key', k('rsa2048.crt.pem')],
      pattern: /rsa2048\.crt\.pem: this is a certificate, not a private key/,
    },
    {
      name: 'certificate of another key',
      args: () => ['--key', k('rsa2048.key.pem'), '--cert', k('other-rsa2048.crt.pem')],
      pattern: /other-rsa2048\.crt\.pem: the certificate does not match the private key/,
    },
    {
      name: 'certificate of another key type',
      args: () => ['--key', k('rsa2048.key.pem'), '--cert', k('p256.crt.der')],
      pattern: /p256\.crt\.der: the certificate does not match the private key/,
    },
    {
      name: 'Ed25519 key',
      args: () => ['--key', k('ed25519.key.pem'), '--cert', k('ed25519.crt.pem')],
      pattern: /ed25519\.key\.pem: ed25519 keys are not supported for IMA signatures/,
    },
    {
      name: 'DSA key',
      args: () => ['--key', k('dsa.key.pem'), '--cert', k('dsa.crt.pem')],
      pattern: /dsa\.key\.pem: dsa keys are not supported for IMA signatures/,
    },
    {
      name: 'garbage certificate',
      setup: (d) => writeFileSync(join(d, 'c.pem'), 'not a certificate'),
      args: (d) => ['--key', k('rsa2048.key.pem'), '--cert', join(d, 'c.pem')],
      pattern: /c\.pem: not an X\.509 certificate/,
    },
    {
      name: 'truncated DER certificate',
      setup: (d) => writeFileSync(join(d, 'c.der'), readFileSync(k('rsa2048.crt.der')).subarray(0, 200)),
      args: (d) => ['--key', k('rsa2048.key.pem'), '--cert', join(d, 'c.der')],
      pattern: /c\.der: (not an X\.509 certificate|cannot parse the certificate)/,
    },
    {
      name: 'missing certificate',
      args: (d) => ['--key', k('rsa2048.key.pem'), '--cert', join(d, 'nope.pem')],
      pattern: /nope\.pem: cannot read certificate: no such file or directory/,
    },
    {
      name: 'a private key as the certificate',
      args: () => ['--key', k('rsa2048.key.pem'), '--cert', k('rsa2048.key.pem')],
      pattern: /rsa2048\.key\.pem: a private key, not a certificate/,
    },
    {
      name: 'bad --keyid',
      args: () => ['--key', k('rsa2048.key.pem'), '--keyid', 'xyz'],
      pattern: /--keyid must be up to 8 hex digits/,
    },
  ];

  for (const c of cases) {
    test(`sign: ${c.name}`, async (t) => {
      if (!ready(t)) return;
      const dir = await tempDir(t);
      writeFileSync(join(dir, 'f'), 'payload');
      c.setup?.(dir);
      const snap = snapshot(dir);
      const r = await runCli(['sign', '--to', 'both', '--xattr', XATTR, ...c.args(dir), join(dir, 'f')], {
        env: c.env,
      });
      assertOneLine(r, { status: 2, pattern: new RegExp(`^ima-sidecar: .*${c.pattern.source}`) }, c.name);
      assert.deepEqual(snapshot(dir), snap, 'something was written');
    });
  }

  const verifyCases: {
    name: string;
    args: (dir: string) => string[];
    pattern: RegExp;
    setup?: (dir: string) => void;
  }[] = [
    {
      name: 'garbage certificate',
      setup: (d) => writeFileSync(join(d, 'c.pem'), 'garbage'),
      args: (d) => ['--cert', join(d, 'c.pem')],
      pattern: /c\.pem: not an X\.509 certificate/,
    },
    {
      name: 'missing certificate',
      args: (d) => ['--cert', join(d, 'nope.der')],
      pattern: /nope\.der: cannot read certificate: no such file or directory/,
    },
    {
      name: 'an empty directory of certificates',
      setup: (d) => mkdirSync(join(d, 'certs')),
      args: (d) => ['--cert', join(d, 'certs')],
      pattern: /certs: no certificates in this directory/,
    },
  ];
  for (const c of verifyCases) {
    for (const cmd of ['verify', 'import --verify', 'status']) {
      test(`${cmd}: ${c.name}`, async (t) => {
        if (!ready(t)) return;
        const dir = await tempDir(t);
        writeFileSync(join(dir, 'f'), 'payload');
        c.setup?.(dir);
        const snap = snapshot(dir);
        const r = await runCli([...cmd.split(' '), '--xattr', XATTR, ...c.args(dir), join(dir, 'f')]);
        assertOneLine(r, { status: 2, pattern: new RegExp(`^ima-sidecar: .*${c.pattern.source}`) }, `${cmd} ${c.name}`);
        assert.deepEqual(snapshot(dir), snap);
      });
    }
  }

  test('a certificate without an SKID: one warning, then the computed keyid, exit 0', async (t) => {
    if (!ready(t)) return;
    const dir = await tempDir(t);
    writeFileSync(join(dir, 'f'), 'payload');
    const r = await runCli([
      'sign',
      '--key',
      KEY('rsa2048.key.pem'),
      '--cert',
      KEY('rsa2048-noskid.crt.pem'),
      join(dir, 'f'),
    ]);
    assert.equal(r.status, 0, show(r));
    const err = lines(r.stderr);
    assert.equal(err.length, 1, show(r));
    assert.match(
      err[0]!,
      /^warning: .*rsa2048-noskid\.crt\.pem: certificate has no subjectKeyIdentifier.*308baedd/,
      show(r),
    );
    const sig = readFileSync(join(dir, 'f.sig'));
    assert.equal(sig.subarray(3, 7).toString('hex'), '308baedd', 'the computed keyid (sha1 of the key) is written');
    // -q keeps the warning quiet; the keyid is the same.
    const q = await runCli([
      'sign',
      '-q',
      '--key',
      KEY('rsa2048.key.pem'),
      '--cert',
      KEY('rsa2048-noskid.crt.pem'),
      join(dir, 'f'),
    ]);
    assert.equal(q.status, 0, show(q));
    assert.equal(q.stderr, '');
  });
});

// ---------------------------------------------------------------------------------------------------

describe('symlinks swapped in while a run is under way', () => {
  test(
    "a directory replaced by a symlink between the walk and the file's operation: the file in the listed directory " +
      "is signed, nothing is written beside the symlink's target",
    async (t) => {
      if (!ready(t)) return;
      const root = await tempDir(t);
      const elsewhere = await tempDir(t);
      mkdirSync(join(root, 'sub'));
      writeFileSync(join(root, 'sub', 'f'), 'mine');
      writeFileSync(join(elsewhere, 'f'), 'theirs'); // what an attacker wants signed (or cleared, or written beside)
      const key = await loadPrivateKey(KEY('rsa2048.key.pem'));
      const opts = {
        key,
        keyid: '308baedd',
        hashAlgo: hashAlgoByName('sha256')!,
        to: 'sidecar' as const,
        xattrName: XATTR,
        suffix: '.sig',
      };
      const results = [];
      for await (const r of processTree(
        [root],
        { select: { recursive: true, suffix: '.sig' }, jobs: 1 },
        async (sel) => {
          // The walk has listed root/sub and found f; now swap sub for a symlink, as another user could.
          renameSync(join(root, 'sub'), join(root, 'sub.moved'));
          symlinkSync(elsewhere, join(root, 'sub'));
          return signFile(sel.path, opts);
        },
      ))
        results.push(r);
      assert.equal(results.length, 1);
      assert.equal(results[0]!.failed, false, JSON.stringify(results[0]));
      assert.equal(results[0]!.path, join(root, 'sub', 'f'), 'reported under the name it was found by');
      assert.equal(existsSync(join(elsewhere, 'f.sig')), false, 'a sidecar was written through the swapped-in symlink');
      assert.deepEqual(readdirSync(elsewhere), ['f']);
      // The sidecar went beside the file that was listed, and it signs that file's content.
      const sig = readFileSync(join(root, 'sub.moved', 'f.sig'));
      const v = await runCli(['verify', '--cert', KEY('rsa2048.crt.pem'), join(root, 'sub.moved', 'f')]);
      assert.equal(v.status, 0, show(v));
      assert.equal(sig[0], 0x03);
    },
  );

  test('a CLI run over a tree being swapped under it never touches the other directory', async (t) => {
    if (!ready(t)) return;
    const root = await tempDir(t);
    const elsewhere = await tempDir(t);
    const N = 150;
    mkdirSync(join(root, 'sub'));
    for (let i = 0; i < N; i++) {
      writeFileSync(join(root, 'sub', `f${i}`), `mine ${i}`);
      writeFileSync(join(elsewhere, `f${i}`), `theirs ${i}`);
      setfattr(join(elsewhere, `f${i}`), digestValueHex(`theirs ${i}`));
    }
    const snap = snapshot(elsewhere);
    // Flip root/sub between the real directory and a symlink to `elsewhere` while clear --force and sign run.
    let stop = false;
    const flipper = (async () => {
      let flips = 0;
      while (!stop) {
        try {
          renameSync(join(root, 'sub'), join(root, 'sub.real'));
          symlinkSync(elsewhere, join(root, 'sub'));
          await new Promise((r) => setImmediate(r));
          renameSync(join(root, 'sub'), join(root, 'sub.link'));
          renameSync(join(root, 'sub.real'), join(root, 'sub'));
          unlinkSync(join(root, 'sub.link'));
          flips++;
        } catch {
          /* the run is racing us: fine */
        }
        await new Promise((r) => setImmediate(r));
      }
      return flips;
    })();
    const runs = [
      await runCli(['clear', '-r', '--force', '--xattr', XATTR, root], { timeoutMs: 60_000 }),
      await runCli(
        [
          'sign',
          '-r',
          '-j',
          '4',
          '--key',
          KEY('rsa2048.key.pem'),
          '--cert',
          KEY('rsa2048.crt.pem'),
          '--to',
          'both',
          '--xattr',
          XATTR,
          root,
        ],
        { timeoutMs: 60_000 },
      ),
    ];
    stop = true;
    const flips = await flipper;
    assert.ok(flips > 0, 'the directory was never swapped');
    assert.deepEqual(
      snapshot(elsewhere),
      snap,
      `something in the other directory changed\n${runs.map(show).join('\n')}`,
    );
    for (const r of runs) assert.doesNotMatch(r.stderr, /internal error|^\s+at /m, show(r));
  });

  test(
    'every xattr call goes to the inode that was opened (O_NOFOLLOW ' +
      '+ /proc/PID/fd/N), even when the name is swapped for a symlink',
    async (t) => {
      if (!ready(t)) return;
      const dir = await tempDir(t);
      const f = join(dir, 'f');
      writeFileSync(f, 'mine');
      linkSync(f, join(dir, 'f.keep')); // a second name for the opened inode, to look at it afterwards
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'theirs');
      const target = openTarget(f, new Run());
      try {
        // Swap the name for a symlink to the victim after the open.
        renameSync(f, join(dir, 'f.old'));
        symlinkSync(victim, f);
        const value = Buffer.from(digestValueHex('mine'), 'hex');
        setXattrFd(target.handle.fd, f, XATTR, value, target.fs.name);
        assert.ok(getXattrFd(target.handle.fd, f, XATTR, target.fs.name)?.equals(value));
        assert.equal(getfattr(join(dir, 'f.keep')), value.toString('hex'), 'the opened inode got the value');
        assert.equal(getfattr(victim), undefined, 'the symlink was followed');
        // The operations' write path refuses outright: the name no longer leads to the opened file.
        // (the stat taken now, after our own setxattr changed the ctime: only the name check can refuse)
        assert.throws(
          () =>
            writeTargetXattr(target, XATTR, Buffer.from(digestValueHex('other'), 'hex'), fstatSync(target.handle.fd)),
          (e: Error & { code?: string }) =>
            e.code === 'ECHANGED' && /replaced while it was being processed; nothing written/.test(e.message),
        );
        assert.equal(getfattr(join(dir, 'f.keep')), value.toString('hex'));
        assert.equal(getfattr(victim), undefined);
      } finally {
        closeTarget(target);
      }
      // And a symlink is refused at the open itself.
      assert.throws(
        () => openTarget(f, new Run()),
        (e: Error & { code?: string }) => e.code === 'ELOOP',
      );
    },
  );
});
