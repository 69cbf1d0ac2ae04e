// Faults (issue 7): nothing lost, nothing half-written. A full filesystem and a read-only mount (real ext4 on
// a loop device), SIGINT/SIGTERM/SIGKILL in the middle of a tree, two runs at once on one tree, and a file
// that changes between being hashed and its value being written.
//
// Every run is checked the same way afterwards: the sidecars on disk are exactly the ones reported, each
// decodes and verifies, no `*.ima-sidecar-tmp` remains, and what must not change is byte-identical
// (snapshots of names, contents and xattrs).
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  BIN,
  fixture,
  getfattrHex,
  jsonOutput,
  loadManifest,
  runCli,
  show,
  tempDir,
  type RunResult,
} from '../helpers/cli.js';
import { useMount } from '../helpers/mounts.js';
import { FAT_TIMEOUT } from '../helpers/system.js';
import { haveCommand, isRoot, skipOrFail } from '../helpers/skip.js';
import { closeTarget, openTarget, writeTargetXattr } from '../../src/carriers/target.js';
import { Run } from '../../src/carriers/run.js';
import { TEMP_SUFFIX } from '../../src/carriers/atomic-write.js';

const KEY = (name: string) => fixture(`keys/${name}`);
const RSA = ['--key', KEY('rsa2048.key.pem'), '--cert', KEY('rsa2048.crt.pem')];
const OTHER = ['--key', KEY('other-rsa2048.key.pem'), '--cert', KEY('other-rsa2048.crt.pem')];
const P256 = ['--key', KEY('p256.key.pem'), '--cert', KEY('p256.crt.pem')];
/** Root writes security.ima; the point here is the filesystem, so user.ima would do too. */
const XATTR = isRoot() ? 'security.ima' : 'user.ima';

function ready(t: TestContext): boolean {
  if (!loadManifest() || !existsSync(KEY('rsa2048.key.pem'))) {
    skipOrFail(t, 'the golden fixtures are missing');
    return false;
  }
  if (!haveCommand('getfattr')) {
    skipOrFail(t, 'needs getfattr (attr)');
    return false;
  }
  return true;
}

const getfattr = (path: string, name = XATTR): string | undefined => getfattrHex(path, name);

/** Every regular file under dir (relative paths), sorted. */
function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) out.push(...filesUnder(dir, r));
    else out.push(r);
  }
  return out;
}

/** Names, contents and xattrs of everything under dir. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of filesUnder(dir)) {
    const p = join(dir, r);
    out[r] = `${createHash('sha256').update(readFileSync(p)).digest('hex')} xattr=${getfattr(p) ?? '-'}`;
  }
  return out;
}

function temporaries(dir: string): string[] {
  return filesUnder(dir).filter((r) => r.endsWith(TEMP_SUFFIX));
}

/** A tree of `dirs` x `per` small files with distinct contents; returns their relative paths. */
function makeTree(root: string, dirs: number, per: number): string[] {
  const files: string[] = [];
  for (let d = 0; d < dirs; d++) {
    mkdirSync(join(root, `d${d}`), { recursive: true });
    for (let i = 0; i < per; i++) {
      const r = `d${d}/f${i}`;
      writeFileSync(join(root, r), `file ${d}/${i} ${'x'.repeat((d * per + i) % 300)}`);
      files.push(r);
    }
  }
  return files;
}

/** verify --json over the given files (from their sidecars, or every carrier): the records not "ok". */
async function notVerified(
  paths: string[],
  certs: string[],
  from: 'sidecar' | 'auto' = 'sidecar',
): Promise<{ bad: Record<string, unknown>[]; r: RunResult }> {
  const bad: Record<string, unknown>[] = [];
  let last: RunResult | undefined;
  for (let i = 0; i < paths.length; i += 500) {
    const r = await runCli(
      [
        'verify',
        '--json',
        '--from',
        from,
        '--xattr',
        XATTR,
        ...certs.flatMap((c) => ['--cert', c]),
        ...paths.slice(i, i + 500),
      ],
      { timeoutMs: 120_000 },
    );
    last = r;
    let records: Record<string, unknown>[];
    try {
      records = jsonOutput(r.stdout).records;
    } catch (e) {
      throw new Error(`verify gave no JSON: ${(e as Error).message}\n${show(r)}`, { cause: e });
    }
    assert.equal(records.length, paths.slice(i, i + 500).length, show(r));
    bad.push(...records.filter((x) => x.status !== 'ok'));
  }
  return { bad, r: last! };
}

/** Fills the filesystem holding dir: big chunks, then small ones, then empty files, until ENOSPC. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  spawnSync('sync');
}

// ---------------------------------------------------------------------------------------------------

describe('a full filesystem (ENOSPC, 8 MiB ext4)', () => {
  test(
    'sign and export over existing sidecars: old sidecars stay ' +
      'whole and valid, no temporary remains, exit 1 naming ENOSPC',
    async (t) => {
      if (!ready(t)) return;
      const m = await useMount(t, 'ext4', { sizeMiB: 8 });
      if (!m) return;
      const tree = join(m.dir, 'tree');
      const files = makeTree(tree, 2, 10);
      const paths = files.map((r) => join(tree, r));
      // Sidecars signed with rsa2048; xattrs holding other-rsa2048's signatures (so export has
      // something different to write).
      assert.equal((await runCli(['sign', '-q', '-r', ...RSA, tree])).status, 0);
      const x = await runCli(['sign', '-q', '-r', ...OTHER, '--to', 'xattr', '--xattr', XATTR, tree]);
      assert.equal(x.status, 0, show(x));
      mkdirSync(join(m.dir, 'fresh'));
      for (let i = 0; i < 5; i++) writeFileSync(join(m.dir, 'fresh', `n${i}`), `fresh ${i}`);
      fill(m.dir);
      const before = snapshot(tree);
      const freshBefore = snapshot(join(m.dir, 'fresh'));

      const runs: [string, string[]][] = [
        ['sign over sidecars', ['sign', '-r', ...P256, tree]],
        ['sign --to both over sidecars', ['sign', '-r', ...P256, '--to', 'both', '--xattr', XATTR, tree]],
        ['export --force over sidecars', ['export', '-r', '--force', '--xattr', XATTR, tree]],
        ['hash --to sidecar over sidecars', ['hash', '-r', '--to', 'sidecar', '--force', tree]],
      ];
      for (const [what, args] of runs) {
        const r = await runCli(args, { timeoutMs: 60_000 });
        assert.equal(r.status, 1, `${what}: ${show(r)}`);
        const failures = r.stderr.split('\n').filter((l) => l.startsWith(tree));
        assert.equal(failures.length, files.length, `${what}: every file fails\n${show(r)}`);
        for (const l of failures)
          assert.match(
            l,
            /: failed: cannot write sidecar \((write|flush)\): no space left on device \(ENOSPC\)$/,
            `${what}: ${show(r)}`,
          );
        assert.doesNotMatch(r.stderr, /internal error|^\s+at /m);
        assert.deepEqual(temporaries(m.dir), [], `${what}: temporaries left`);
        assert.deepEqual(snapshot(tree), before, `${what}: something changed`);
      }
      // The old sidecars are whole and still verify.
      const { bad } = await notVerified(paths, [KEY('rsa2048.crt.pem')]);
      assert.deepEqual(bad, []);

      // A new xattr that needs a block of its own: ENOSPC from setxattr, nothing half-set.
      const fresh = readdirSync(join(m.dir, 'fresh')).map((n) => join(m.dir, 'fresh', n));
      const xr = await runCli(['sign', ...RSA, '--to', 'xattr', '--xattr', XATTR, ...fresh], { timeoutMs: 60_000 });
      assert.equal(xr.status, 1, show(xr));
      assert.match(xr.stderr, /no space left for the extended attribute \(ENOSPC\)/, show(xr));
      assert.deepEqual(snapshot(join(m.dir, 'fresh')), freshBefore);

      // Room again: the same run now succeeds (nothing was left in a state that blocks it).
      unlinkSync(join(m.dir, 'filler'));
      const again = await runCli(['sign', '-q', '-r', ...P256, tree], { timeoutMs: 60_000 });
      assert.equal(again.status, 0, show(again));
      assert.deepEqual((await notVerified(paths, [KEY('p256.crt.pem')])).bad, []);
    },
  );
});

describe('a read-only mount (EROFS, ext4 remounted ro)', () => {
  test('sign, import, export, clear and hash: exit 1, EROFS named on every line, nothing changed', async (t) => {
    if (!ready(t)) return;
    const m = await useMount(t, 'ext4', { sizeMiB: 16 });
    if (!m) return;
    const tree = join(m.dir, 'tree');
    const files = makeTree(tree, 2, 5);
    // Sidecars hold signatures, xattrs hold digests: import, export --force and clear --force would all write.
    assert.equal((await runCli(['sign', '-q', '-r', ...RSA, tree])).status, 0);
    assert.equal((await runCli(['hash', '-q', '-r', '--to', 'xattr', '--xattr', XATTR, tree])).status, 0);
    await m.remountReadOnly();
    const before = snapshot(tree);
    const runs: [string, string[], RegExp][] = [
      [
        'sign',
        ['sign', '-r', ...P256, tree],
        /: failed: cannot write sidecar \(create\): read-only filesystem \(EROFS\)$/,
      ],
      [
        'sign --to xattr',
        ['sign', '-r', ...P256, '--to', 'xattr', '--xattr', XATTR, tree],
        /: failed: read-only filesystem \(EROFS\)$/,
      ],
      ['import', ['import', '-r', '--xattr', XATTR, tree], /: failed: read-only filesystem \(EROFS\)$/],
      [
        'export --force',
        ['export', '-r', '--force', '--xattr', XATTR, tree],
        /: failed: cannot write sidecar \(create\): read-only filesystem \(EROFS\)$/,
      ],
      [
        'clear --force',
        ['clear', '-r', '--force', '--xattr', XATTR, tree],
        /: failed: read-only filesystem \(EROFS\)$/,
      ],
      [
        'hash --to sidecar',
        ['hash', '-r', '--to', 'sidecar', '--force', tree],
        /: failed: cannot write sidecar \(create\): read-only filesystem \(EROFS\)$/,
      ],
    ];
    for (const [what, args, pattern] of runs) {
      const r = await runCli(args, { timeoutMs: 60_000 });
      assert.equal(r.status, 1, `${what}: ${show(r)}`);
      const failures = r.stderr.split('\n').filter((l) => l.startsWith(tree));
      assert.equal(failures.length, files.length, `${what}: ${show(r)}`);
      for (const l of failures) assert.match(l, pattern, `${what}: ${show(r)}`);
      assert.deepEqual(snapshot(tree), before, `${what}: something changed`);
    }
    // Reading still works on the read-only mount.
    const v = await runCli(['verify', '-r', '--from', 'sidecar', '--cert', KEY('rsa2048.crt.pem'), tree]);
    assert.equal(v.status, 0, show(v));
  });
});

// ---------------------------------------------------------------------------------------------------

interface Interrupted {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI, sends `signals` once `afterLines` lines have appeared on stdout, and waits for it. */
function runAndInterrupt(
  args: string[],
  afterLines: number,
  signals: NodeJS.Signals[],
  gapMs = 0,
): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let out = '';
    let err = '';
    let sent = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
      if (!sent && out.split('\n').length > afterLines) {
        sent = true;
        signals.forEach((sig, i) => setTimeout(() => child.kill(sig), i * gapMs));
      }
    });
    child.stderr.on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (!sent) reject(new Error(`the run ended before ${afterLines} lines (status ${status}):\n${out}\n${err}`));
      else resolve({ status, signal, stdout: out, stderr: err });
    });
  });
}

describe('signals in the middle of a tree (ext4)', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    test(
      `${sig}: files in flight finish, the summary so far is printed, exit ` +
        `${code}, every sidecar on disk is complete and valid, no temporary remains`,
      async (t) => {
        if (!ready(t)) return;
        const m = await useMount(t, 'ext4', { sizeMiB: 64 });
        if (!m) return;
        const tree = join(m.dir, 'tree');
        const files = makeTree(tree, 20, 100); // 2000 files
        const r = await runAndInterrupt(['sign', '-r', '-j', '8', ...P256, tree], 40, [sig]);
        assert.equal(r.signal, null, `killed by ${r.signal}:\n${r.stderr}`);
        assert.equal(r.status, code, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`ima-sidecar: ${sig} received: finishing the files in flight, then stopping`),
        );
        const signed = r.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => l.replace(/: signed \(.*\)$/, ''));
        assert.ok(
          signed.length >= 40 && signed.length < files.length,
          `${signed.length} of ${files.length} signed: not interrupted part way`,
        );
        const summary = new RegExp(
          `^${signed.length} files: ${signed.length} signed \\([0-9.]+ s\\); stopped by ${sig}$`,
          'm',
        );
        assert.match(r.stderr, summary, r.stderr);
        // Exactly the reported files have sidecars: nothing in flight was abandoned half-done or left unreported.
        const onDisk = filesUnder(tree)
          .filter((p) => p.endsWith('.sig'))
          .map((p) => join(tree, p.slice(0, -4)));
        assert.deepEqual(onDisk.sort(), signed.slice().sort());
        assert.deepEqual(temporaries(tree), []);
        const { bad } = await notVerified(signed, [KEY('p256.crt.pem')]);
        assert.deepEqual(bad, []);
      },
    );
  }

  test(
    'SIGINT during import -r, whose files are all synchronous calls: ' +
      'noticed part way, exit 130, exactly the reported files have the value',
    async (t) => {
      if (!ready(t)) return;
      const m = await useMount(t, 'ext4', { sizeMiB: 64 });
      if (!m) return;
      const tree = join(m.dir, 'tree');
      const files = makeTree(tree, 40, 100); // 4000 files
      assert.equal((await runCli(['sign', '-q', '-r', ...P256, tree], { timeoutMs: 180_000 })).status, 0);
      // Before the runner gave the event loop its turns, this run never saw the signal: every file, exit 0.
      const r = await runAndInterrupt(['import', '-r', '--xattr', XATTR, tree], 40, ['SIGINT']);
      assert.equal(r.signal, null, `killed by ${r.signal}:\n${r.stderr}`);
      assert.equal(r.status, 130, r.stderr);
      assert.match(r.stderr, /ima-sidecar: SIGINT received: finishing the files in flight, then stopping/);
      const imported = new Set(
        r.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => l.replace(/: imported \(.*\)$/, '')),
      );
      assert.ok(
        imported.size >= 40 && imported.size < files.length,
        `${imported.size} of ${files.length} imported: not interrupted part way`,
      );
      // One getfattr over the tree (a process per file would take seconds): path -> hex value.
      const dump = spawnSync('getfattr', ['--absolute-names', '-R', '-e', 'hex', '-n', XATTR, tree], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      }).stdout;
      const values = new Map([...dump.matchAll(/^# file: (.*)\n[^=\n]+=0x([0-9a-f]*)$/gm)].map((x) => [x[1]!, x[2]!]));
      for (const rel of files) {
        const f = join(tree, rel);
        const got = values.get(f);
        if (imported.has(f)) assert.equal(got, readFileSync(`${f}.sig`).toString('hex'), f);
        else assert.equal(got, undefined, `${f} has a value but was not reported`);
      }
    },
  );

  test(
    'a second SIGINT stops at once: exit 130, temporaries ' + 'removed, every sidecar on disk complete and valid',
    async (t) => {
      if (!ready(t)) return;
      const m = await useMount(t, 'ext4', { sizeMiB: 64 });
      if (!m) return;
      const tree = join(m.dir, 'tree');
      makeTree(tree, 20, 100);
      const r = await runAndInterrupt(['sign', '-r', '-j', '16', ...P256, tree], 40, ['SIGINT', 'SIGINT'], 5);
      assert.equal(r.status, 130, r.stderr);
      assert.deepEqual(temporaries(tree), []);
      const onDisk = filesUnder(tree)
        .filter((p) => p.endsWith('.sig'))
        .map((p) => join(tree, p.slice(0, -4)));
      assert.ok(onDisk.length >= 40);
      assert.deepEqual((await notVerified(onDisk, [KEY('p256.crt.pem')])).bad, []);
    },
  );

  test(
    'two SIGINTs 0.4 s apart during migrate onto FAT: every copy started is finished or rolled back, fsck.fat is clean',
    FAT_TIMEOUT,
    async (t) => {
      if (!ready(t)) return;
      if (!haveCommand('fsck.fat')) return skipOrFail(t, 'needs fsck.fat (dosfstools)');
      const src = await useMount(t, 'ext4', { sizeMiB: 160 });
      const fat = await useMount(t, 'fat', { sizeMiB: 256 });
      if (!src || !fat) return;
      const tree = join(src.dir, 'tree');
      mkdirSync(tree);
      // Large enough that copies are in flight when the second signal lands.
      for (let i = 0; i < 40; i++) writeFileSync(join(tree, `f${String(i).padStart(2, '0')}`), randomBytes(2_500_000));
      await runCli(['sign', '-q', '-r', ...P256, tree]);
      const dest = join(fat.dir, 'dest');
      const r = await runAndInterrupt(['migrate', '-r', '-j', '8', tree, dest], 4, ['SIGINT', 'SIGINT'], 400);
      assert.equal(r.status, 130, r.stderr);
      const left = readdirSync(dest);
      assert.deepEqual(
        left.filter((n) => n.startsWith('.')),
        [],
        'no temporaries, no .fuse_hidden files',
      );
      const copies = left.filter((n) => !n.endsWith('.sig'));
      assert.ok(copies.length >= 4, left.join(' '));
      for (const c of copies) assert.ok(left.includes(`${c}.sig`), `${c} was copied without its sidecar`);
      assert.deepEqual(
        (
          await notVerified(
            copies.map((c) => join(dest, c)),
            [KEY('p256.crt.pem')],
          )
        ).bad,
        [],
      );
      await fat.remountReadOnly();
      const fsck = spawnSync('fsck.fat', ['-n', fat.image], { encoding: 'utf8' });
      assert.equal(fsck.status, 0, `${fsck.stdout}${fsck.stderr}`);
      assert.doesNotMatch(fsck.stdout, /Dirty|differ|Orphan|Broken|LFN|Deleting/i, fsck.stdout);
    },
  );

  test(
    'SIGKILL: the next run removes what the killed one left, ' +
      "leaves a live writer's temporaries alone, and finishes",
    async (t) => {
      if (!ready(t)) return;
      const m = await useMount(t, 'ext4', { sizeMiB: 32 });
      if (!m) return;
      const tree = join(m.dir, 'tree');
      const files = makeTree(tree, 4, 100);
      const r = await runAndInterrupt(['sign', '-r', '-j', '16', ...P256, tree], 30, ['SIGKILL']);
      assert.equal(r.signal, 'SIGKILL');
      // What a killed writer leaves at worst: a temporary beside a file (made here with a pid that is surely dead).
      const dead = spawnSync('true').pid!;
      const stale = join(tree, 'd1', `.f7.sig.${dead}.0badf00d${TEMP_SUFFIX}`);
      writeFileSync(stale, 'half a sidecar');
      const live = join(tree, 'd2', `.f8.sig.${process.pid}.00c0ffee${TEMP_SUFFIX}`);
      writeFileSync(live, 'a live writer is still writing this');
      const again = await runCli(['sign', '-q', '-r', ...P256, tree], { timeoutMs: 180_000 });
      assert.equal(again.status, 0, show(again));
      assert.equal(existsSync(stale), false, "the dead writer's temporary is still there");
      assert.equal(existsSync(live), true, "a live writer's temporary was removed");
      unlinkSync(live);
      assert.deepEqual(temporaries(tree), []);
      const paths = files.map((f) => join(tree, f));
      assert.deepEqual((await notVerified(paths, [KEY('p256.crt.pem')])).bad, []);
    },
  );
});

// ---------------------------------------------------------------------------------------------------

describe('two runs at once on the same tree', () => {
  test(
    'two signers with different keys and a verifier at the same ' +
      'time: all finish, every carrier verifies, no temporaries',
    async (t) => {
      if (!ready(t)) return;
      const m = await useMount(t, 'ext4', { sizeMiB: 32 });
      if (!m) return;
      const tree = join(m.dir, 'tree');
      const files = makeTree(tree, 3, 50);
      const paths = files.map((f) => join(tree, f));
      const both = [KEY('rsa2048.crt.pem'), KEY('p256.crt.pem')];
      // A first signature everywhere, so that the concurrent verifier always finds something to check.
      assert.equal(
        (await runCli(['sign', '-q', '-r', ...RSA, '--to', 'both', '--xattr', XATTR, tree], { timeoutMs: 120_000 }))
          .status,
        0,
      );
      const [a, b, v] = await Promise.all([
        runCli(['sign', '-q', '-r', ...RSA, '--to', 'both', '--xattr', XATTR, tree], { timeoutMs: 120_000 }),
        runCli(['sign', '-q', '-r', ...P256, '--to', 'both', '--xattr', XATTR, tree], { timeoutMs: 120_000 }),
        // Readers see the old sidecar or the new one, never a torn one.
        runCli(['verify', '-q', '-r', '--xattr', XATTR, ...both.flatMap((c) => ['--cert', c]), tree], {
          timeoutMs: 120_000,
        }),
      ]);
      for (const r of [a, b, v]) assert.equal(r.status, 0, show(r));
      assert.deepEqual(temporaries(tree), []);
      assert.deepEqual((await notVerified(paths, both, 'auto')).bad, []);

      // Import and export racing with themselves: both finish, the carriers end up equal.
      const [i1, i2] = await Promise.all([
        runCli(['import', '-q', '-r', '--force', '--xattr', XATTR, tree], { timeoutMs: 120_000 }),
        runCli(['import', '-q', '-r', '--force', '--xattr', XATTR, tree], { timeoutMs: 120_000 }),
      ]);
      assert.equal(i1.status, 0, show(i1));
      assert.equal(i2.status, 0, show(i2));
      for (const p of paths) assert.equal(getfattr(p), readFileSync(`${p}.sig`).toString('hex'), p);
      assert.equal(
        (await runCli(['sign', '-q', '-r', ...RSA, '--to', 'xattr', '--xattr', XATTR, tree], { timeoutMs: 120_000 }))
          .status,
        0,
      );
      const [e1, e2] = await Promise.all([
        runCli(['export', '-q', '-r', '--force', '--xattr', XATTR, tree], { timeoutMs: 120_000 }),
        runCli(['export', '-q', '-r', '--force', '--xattr', XATTR, tree], { timeoutMs: 120_000 }),
      ]);
      assert.equal(e1.status, 0, show(e1));
      assert.equal(e2.status, 0, show(e2));
      for (const p of paths) assert.equal(readFileSync(`${p}.sig`).toString('hex'), getfattr(p), p);
      assert.deepEqual(temporaries(tree), []);
      assert.deepEqual((await notVerified(paths, [KEY('rsa2048.crt.pem')], 'auto')).bad, []);
    },
  );
});

// ---------------------------------------------------------------------------------------------------

describe('the file changes between hashing and writing', () => {
  test('appended to while sign --to both and hash --to sidecar read it: reported, nothing written', async (t) => {
    if (!ready(t)) return;
    const dir = await tempDir(t);
    const big = join(dir, 'big');
    writeFileSync(big, '');
    truncateSync(big, 256 << 20); // sparse: cheap to make, still takes a while to hash
    let appending = true;
    let appended = 0;
    const appender = (async () => {
      while (appending) {
        appendFileSync(big, 'x');
        appended++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      const sign = await runCli(['sign', ...RSA, '--to', 'both', '--xattr', XATTR, big], { timeoutMs: 120_000 });
      assert.equal(sign.status, 1, show(sign));
      assert.match(
        sign.stderr,
        /^.*big: failed: file changed while it was being processed; nothing written\n$/,
        show(sign),
      );
      const hash = await runCli(['hash', '--to', 'sidecar', big], { timeoutMs: 120_000 });
      assert.equal(hash.status, 1, show(hash));
      assert.match(hash.stderr, /big: failed: file changed while it was being processed; nothing written/, show(hash));
      const hx = await runCli(['hash', '--to', 'xattr', '--xattr', XATTR, big], { timeoutMs: 120_000 });
      assert.equal(hx.status, 1, show(hx));
      assert.match(hx.stderr, /big: failed: file changed while it was being processed; nothing written/, show(hx));
    } finally {
      appending = false;
      await appender;
    }
    assert.ok(appended > 0);
    assert.equal(getfattr(big), undefined, 'an xattr was written');
    assert.deepEqual(readdirSync(dir), ['big'], 'a sidecar or temporary was written');
  });

  test(
    'assertUnchanged, directly: content, mtime, replaced and removed are ' +
      'each refused before the xattr is written; metadata changes are not',
    async (t) => {
      if (!ready(t)) return;
      const dir = await tempDir(t);
      const value = Buffer.from(`0404${createHash('sha256').update('content').digest('hex')}`, 'hex');
      const changes: [string, (f: string) => void, RegExp][] = [
        [
          'content appended',
          (f) => appendFileSync(f, '!'),
          /file changed while it was being processed; nothing written/,
        ],
        [
          'content rewritten, same size',
          (f) => writeFileSync(f, 'CONTENT'),
          /file changed while it was being processed; nothing written/,
        ],
        [
          'mtime only',
          (f) => utimesSync(f, new Date(0), new Date(86_400_000)),
          /file changed while it was being processed; nothing written/,
        ],
        // Unlinking the opened inode's name changes its link count, hence its ctime: either check may fire first.
        [
          'replaced by another file',
          (f) => (writeFileSync(`${f}.new`, 'content'), renameSync(`${f}.new`, f)),
          /file (changed|was replaced) while it was being processed; nothing written/,
        ],
        ['removed', (f) => unlinkSync(f), /file (changed|was removed) while it was being processed; nothing written/],
      ];
      for (const [what, change, reason] of changes) {
        const f = join(dir, what.replace(/\W+/g, '-'));
        writeFileSync(f, 'content');
        linkSync(f, `${f}.keep`); // to look at the opened inode whatever happens to the name
        const target = openTarget(f, new Run());
        try {
          const before = target.stat;
          await new Promise((r) => setTimeout(r, 15)); // so that a timestamp change is visible
          change(f);
          assert.throws(
            () => writeTargetXattr(target, XATTR, value, before),
            (e: Error & { code?: string }) => e.code === 'ECHANGED' && reason.test(e.message),
            what,
          );
          assert.equal(getfattr(`${f}.keep`), undefined, `${what}: written anyway`);
        } finally {
          closeTarget(target);
        }
      }
      // The controls: unchanged, or changed only in metadata (ctime: a mode, another run's setxattr), it is written.
      for (const [what, change] of [
        ['unchanged', () => {}],
        ['chmod', (f: string) => chmodSync(f, 0o600)],
        ['another xattr', (f: string) => spawnSync('setfattr', ['-n', 'user.other', '-v', '1', f])],
      ] as const) {
        const f = join(dir, what.replace(/\W+/g, '-'));
        writeFileSync(f, 'content');
        const target = openTarget(f, new Run());
        try {
          await new Promise((r) => setTimeout(r, 15));
          change(f);
          writeTargetXattr(target, XATTR, value, target.stat);
        } finally {
          closeTarget(target);
        }
        assert.equal(getfattr(f), value.toString('hex'), what);
      }
    },
  );
});
