// Proves the real-filesystem helpers in test/helpers/mounts.ts: each kind mounts, behaves like itself
// (xattrs, statfs magic, read-only remount), and is always undone — by unmount(), by t.after() when a
// test throws, and by the process-level safety net when a process throws or is signalled.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  FS_KINDS,
  FS_MAGIC,
  cannotMount,
  isMounted,
  loopInUse,
  mountFresh,
  nobodyIds,
  readMounts,
  runAsNobody,
  useMount,
  type FsKind,
  type Mounted,
} from '../helpers/mounts.js';
import { missing, skipOrFail } from '../helpers/skip.js';

const execFileP = promisify(execFile);
const MOUNTS_JS = new URL('../helpers/mounts.js', import.meta.url).href;

/** Type as /proc/mounts shows it. */
const PROC_TYPE: Record<FsKind, string> = { ext4: 'ext4', xfs: 'xfs', btrfs: 'btrfs', fat: 'fuse.fusefat' };

/** Loop devices and dirs this file has seen, checked once more at the end. */
const seen: { dir: string; base: string; loopDevice?: string; image: string }[] = [];

function remember(m: Mounted): void {
  seen.push({ dir: m.dir, base: join(m.dir, '..'), loopDevice: m.loopDevice, image: m.image });
}

async function sh(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Pids of live processes whose command line mentions s (to find a leftover fusefat). */
function processesMentioning(s: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const state = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && cmdline.split('\0').some((a) => a.includes(s))) pids.push(Number(name));
    } catch {
      // raced with its exit
    }
  }
  return pids;
}

function losetupMentions(image: string): Promise<boolean> {
  return sh('losetup', ['-a']).then((r) => r.stdout.includes(image));
}

async function assertGone(info: { dir: string; base: string; image: string; loopDevice?: string }): Promise<void> {
  assert.equal(isMounted(info.dir), false, `${info.dir} is still mounted`);
  assert.equal(existsSync(info.base), false, `${info.base} was not removed`);
  if (info.loopDevice) {
    // The device may already serve another image; ours must not be behind it.
    const backing = loopInUse(info.loopDevice)
      ? readFileSync(`/sys/block/${info.loopDevice.replace('/dev/', '')}/loop/backing_file`, 'utf8')
      : '';
    assert.ok(!backing.includes(info.image), `${info.loopDevice} still backs ${info.image}`);
  }
  assert.equal(await losetupMentions(info.image), false, `losetup -a still lists ${info.image}`);
  assert.deepEqual(processesMentioning(info.dir), [], `a process still serves ${info.dir}`);
}

function errnoOf(f: () => Promise<unknown>): Promise<string | undefined> {
  return f().then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e.code,
  );
}

test('every kind can be mounted here as root (cannotMount)', (t) => {
  const why = missing({ root: true });
  if (why) return skipOrFail(t, why);
  for (const kind of FS_KINDS) assert.equal(cannotMount(kind), undefined, kind);
});

for (const kind of FS_KINDS) {
  describe(`${kind}`, () => {
    test(`mounts, statfs magic, xattrs, remount ro/rw, unmount`, async (t) => {
      const why = missing({ commands: ['setfattr', 'getfattr'] });
      if (why) return skipOrFail(t, why);
      const started = performance.now();
      const m = await useMount(t, kind);
      if (!m) return;
      remember(m);
      t.diagnostic(`mkfs + mount ${kind}: ${Math.round(performance.now() - started)} ms`);
      assert.equal(m.kind, kind);
      assert.equal(isMounted(m.dir), true);
      assert.equal(readMounts().find((e) => e.target === m.dir)?.type, PROC_TYPE[kind]);
      if (kind === 'fat') assert.equal(m.loopDevice, undefined);
      else assert.match(m.loopDevice ?? '', /^\/dev\/loop\d+$/);

      // statfs: fusefat reports FUSE_SUPER_MAGIC 0x65735546 (and f_blocks 0); kernel fs their own magic.
      const sf = await statfs(m.dir);
      assert.equal(sf.type, FS_MAGIC[kind], `statfs type 0x${sf.type.toString(16)}`);

      const file = join(m.dir, 'file.txt');
      await writeFile(file, 'hello\n');
      assert.equal(await readFile(file, 'utf8'), 'hello\n');

      const set = await sh('setfattr', ['-n', 'user.test', '-v', 'value1', file]);
      if (kind === 'fat') {
        assert.notEqual(set.code, 0);
        assert.match(set.stderr, /Operation not supported/);
      } else {
        assert.equal(set.code, 0, set.stderr);
        const get = await sh('getfattr', ['--only-values', '-n', 'user.test', file]);
        assert.equal(get.code, 0, get.stderr);
        assert.equal(get.stdout, 'value1');
      }

      const marker = `marker-${kind}-${process.pid}-${Date.now()}`;
      await writeFile(join(m.dir, 'marker.txt'), marker);

      await m.remountReadOnly();
      assert.ok(
        readMounts()
          .find((e) => e.target === m.dir)
          ?.options.includes('ro'),
      );
      assert.equal(await readFile(file, 'utf8'), 'hello\n');
      assert.equal(await errnoOf(() => writeFile(join(m.dir, 'new.txt'), 'x')), 'EROFS');
      assert.equal(await errnoOf(() => writeFile(file, 'changed')), 'EROFS');
      if (kind !== 'fat') {
        const roSet = await sh('setfattr', ['-n', 'user.other', '-v', '1', file]);
        assert.match(roSet.stderr, /Read-only file system/);
      }
      if (kind === 'fat') {
        // fat remounts by restarting fusefat, so the first daemon has exited: the image holds the data.
        const img = await readFile(m.image);
        assert.ok(img.includes(Buffer.from(marker)), 'image lacks data written before the remount');
        const fsck = await sh('fsck.vfat', ['-n', m.image]);
        assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
      }

      await m.remountReadWrite();
      assert.ok(
        readMounts()
          .find((e) => e.target === m.dir)
          ?.options.includes('rw'),
      );
      await writeFile(join(m.dir, 'new.txt'), 'x');
      assert.equal(await readFile(join(m.dir, 'marker.txt'), 'utf8'), marker);

      const info = { dir: m.dir, base: join(m.dir, '..'), image: m.image, loopDevice: m.loopDevice };
      const t0 = performance.now();
      await m.unmount();
      t.diagnostic(`unmount ${kind}: ${Math.round(performance.now() - t0)} ms`);
      await m.unmount(); // idempotent
      await assertGone(info);
      await assert.rejects(m.remountReadOnly(), /already unmounted/);
    });

    test(`sizes below the minimum are raised`, async (t) => {
      const m = await useMount(t, kind, { sizeMiB: 1 });
      if (!m) return;
      remember(m);
      const minMiB: Record<FsKind, number> = { ext4: 8, xfs: 300, btrfs: 110, fat: 33 };
      assert.equal((await stat(m.image)).size, minMiB[kind] * 1024 * 1024);
    });
  });
}

test('mountOptions reach the mount', async (t) => {
  const ext = await useMount(t, 'ext4', { mountOptions: ['noatime'] });
  if (!ext) return;
  remember(ext);
  assert.ok(
    readMounts()
      .find((e) => e.target === ext.dir)
      ?.options.includes('noatime'),
  );
  const fat = await useMount(t, 'fat', { mountOptions: ['uid=65534', 'gid=65534'] });
  if (!fat) return;
  remember(fat);
  await writeFile(join(fat.dir, 'f'), 'x');
  const st = await stat(join(fat.dir, 'f'));
  assert.equal(st.uid, 65534);
  assert.equal((await runAsNobody('sh', ['-c', `echo n > ${join(fat.dir, 'n')}`])).status, 0);
});

describe('runAsNobody', () => {
  test('runs as nobody without capabilities, passes input, reports status', async (t) => {
    const why = missing({ root: true });
    if (why) return skipOrFail(t, why);
    const id = await runAsNobody('sh', ['-c', 'id -u; id -g; id -G; grep CapEff /proc/self/status']);
    assert.equal(id.status, 0, id.stderr);
    const { uid, gid } = nobodyIds();
    const [u, g, groups, capEff] = id.stdout.trim().split('\n');
    assert.equal(Number(u), uid);
    assert.equal(Number(g), gid);
    assert.equal(groups, String(gid));
    assert.match(capEff ?? '', /CapEff:\s+0+$/);

    const cat = await runAsNobody('cat', [], { input: Buffer.from('piped\n') });
    assert.deepEqual([cat.status, cat.stdout], [0, 'piped\n']);
    const fail = await runAsNobody('sh', ['-c', 'echo oops >&2; exit 3']);
    assert.deepEqual([fail.status, fail.stderr], [3, 'oops\n']);
  });

  test('nobody reaches a mount only where dirs allow it (callers chmod/chown)', async (t) => {
    const m = await useMount(t, 'ext4');
    if (!m) return;
    remember(m);
    // Root of a fresh ext4 is root-owned 0755: nobody reads, cannot write.
    await writeFile(join(m.dir, 'readable'), 'r');
    const read = await runAsNobody('cat', [join(m.dir, 'readable')]);
    assert.equal(read.stdout, 'r');
    const denied = await runAsNobody('sh', ['-c', `echo x > ${join(m.dir, 'no')}`]);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /Permission denied/);
    // After chown, nobody writes (and cwd works).
    const sub = join(m.dir, 'sub');
    await mkdir(sub);
    const { uid, gid } = nobodyIds();
    await chown(sub, uid, gid);
    const wrote = await runAsNobody('sh', ['-c', 'echo y > f && cat f'], { cwd: sub });
    assert.equal(wrote.status, 0, wrote.stderr);
    assert.equal((await stat(join(sub, 'f'))).uid, uid);
  });

  test('on fat, permissions come from mount options (default root 0755; uid= lets nobody write)', async (t) => {
    const m = await useMount(t, 'fat');
    if (!m) return;
    remember(m);
    await writeFile(join(m.dir, 'f'), 'r');
    const read = await runAsNobody('cat', [join(m.dir, 'f')]);
    assert.equal(read.stdout, 'r', read.stderr);
    const denied = await runAsNobody('sh', ['-c', `echo x > ${join(m.dir, 'no')}`]);
    assert.notEqual(denied.status, 0);
    assert.equal(await errnoOf(() => chown(join(m.dir, 'f'), 65534, 65534)), 'ENOSYS');
  });
});

// ----------------------------------------------------------------------------------------------------
// cleanup when things go wrong, observed from outside in child processes

interface ChildInfo {
  dir: string;
  base: string;
  image: string;
  loopDevice?: string;
}

async function runChild(
  script: string,
  opts: { args?: string[]; signalAfterInfo?: NodeJS.Signals; timeoutMs?: number } = {},
): Promise<{ status: number | null; signal: NodeJS.Signals | null; infos: ChildInfo[]; raw: string; output: string }> {
  const work = await mkdtemp(join(tmpdir(), 'ima-sidecar-child-'));
  const infoFile = join(work, 'info.jsonl');
  const file = join(work, 'child.mjs');
  await writeFile(infoFile, '');
  await writeFile(file, script);
  try {
    return await new Promise((resolve, reject) => {
      // NODE_TEST_CONTEXT (set because we run under node --test) would make a nested --test child
      // report to us over the runner protocol instead of exiting with its own status.
      const env: NodeJS.ProcessEnv = { ...process.env, MOUNTS_JS, INFO_FILE: infoFile, CI: 'false' };
      delete env.NODE_TEST_CONTEXT;
      const child = spawn(process.execPath, [...(opts.args ?? []), file], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (b) => (output += b));
      child.stderr.on('data', (b) => (output += b));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      let poll: NodeJS.Timeout | undefined;
      if (opts.signalAfterInfo) {
        const sig = opts.signalAfterInfo;
        poll = setInterval(() => {
          if (readFileSync(infoFile, 'utf8').includes('READY')) {
            clearInterval(poll);
            child.kill(sig);
          }
        }, 20);
      }
      child.on('error', reject);
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        if (poll) clearInterval(poll);
        const raw = readFileSync(infoFile, 'utf8');
        const infos = raw
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as ChildInfo);
        resolve({ status, signal, infos, raw, output });
      });
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const PRELUDE = `
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const h = await import(process.env.MOUNTS_JS);
const report = (m) => appendFileSync(process.env.INFO_FILE,
  JSON.stringify({ dir: m.dir, base: join(m.dir, '..'), image: m.image, loopDevice: m.loopDevice }) + '\\n');
`;

describe('cleanup survives failures', () => {
  test('a node:test test that throws is cleaned up by t.after, before the next test runs', async (t) => {
    if (cannotMount('ext4') || cannotMount('fat')) return skipOrFail(t, 'cannot mount ext4 and fat');
    const r = await runChild(
      `import { test } from 'node:test';
${PRELUDE}
let dirs = [];
test('throws with mounts', async (t) => {
  for (const kind of ['ext4', 'fat']) {
    const m = await h.useMount(t, kind);
    report(m);
    dirs.push(m.dir);
  }
  throw new Error('boom');
});
test('after the failure', () => {
  appendFileSync(process.env.INFO_FILE, 'STILL_MOUNTED ' + dirs.filter((d) => h.isMounted(d)).length + '\\n');
});
`,
      { args: ['--test', '--test-reporter=tap'] },
    );
    assert.notEqual(r.status, 0, 'the child test should have failed');
    assert.match(r.output, /boom/);
    assert.equal(r.infos.length, 2, r.output);
    // The second test ran after the failing one's t.after hooks, not only after the exit safety net.
    assert.match(r.raw, /^STILL_MOUNTED 0$/m, 'mounts were still there when the next test ran');
    for (const info of r.infos) await assertGone(info);
  });

  test('an uncaught exception after mounting every kind is cleaned up on exit', async (t) => {
    for (const kind of FS_KINDS) if (cannotMount(kind)) return skipOrFail(t, `cannot mount ${kind}`);
    const r = await runChild(`${PRELUDE}
for (const kind of ${JSON.stringify(FS_KINDS)}) report(await h.mountFresh(kind));
throw new Error('boom after mounting');
`);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /boom after mounting/);
    assert.equal(r.infos.length, FS_KINDS.length, r.output);
    for (const info of r.infos) await assertGone(info);
  });

  test('process.exit() with mounts left is cleaned up', async (t) => {
    if (cannotMount('btrfs') || cannotMount('fat')) return skipOrFail(t, 'cannot mount btrfs and fat');
    const r = await runChild(`${PRELUDE}
report(await h.mountFresh('btrfs'));
report(await h.mountFresh('fat'));
process.exit(7);
`);
    assert.equal(r.status, 7, r.output);
    assert.equal(r.infos.length, 2, r.output);
    for (const info of r.infos) await assertGone(info);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(`${sig} while mounted is cleaned up, and the process still dies of ${sig}`, async (t) => {
      if (cannotMount('xfs') || cannotMount('fat')) return skipOrFail(t, 'cannot mount xfs and fat');
      const r = await runChild(
        `${PRELUDE}
report(await h.mountFresh('xfs'));
report(await h.mountFresh('fat'));
appendFileSync(process.env.INFO_FILE, 'READY\\n');
setInterval(() => {}, 1000);
`,
        { signalAfterInfo: sig },
      );
      assert.equal(r.signal, sig, r.output);
      assert.equal(r.infos.length, 2, r.output);
      for (const info of r.infos) await assertGone(info);
    });
  }

  test('a failed mount leaves nothing behind', async (t) => {
    if (cannotMount('ext4')) return skipOrFail(t, 'cannot mount ext4');
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('ima-sidecar-ext4-'));
    await assert.rejects(mountFresh('ext4', { mountOptions: ['no_such_option_xyz'] }), /mount .* failed/);
    const after = readdirSync(tmpdir()).filter((n) => n.startsWith('ima-sidecar-ext4-'));
    assert.deepEqual(after, before);
    const r = await sh('losetup', ['-a']);
    assert.doesNotMatch(r.stdout, /ima-sidecar-ext4-/);
  });
});

test('nothing this file mounted is left: no mounts, loop devices, temp dirs or daemons', async () => {
  // Runs last (tests in a file run in order): everything above used t.after.
  await new Promise((r) => setImmediate(r));
  for (const info of seen) await assertGone(info);
  const leftovers = readMounts().filter((e) => e.target.startsWith(join(tmpdir(), 'ima-sidecar-')));
  assert.deepEqual(leftovers, []);
});
