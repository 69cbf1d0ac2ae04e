#!/usr/bin/env node
/**
 * ima-sidecar against evmctl (and the shell), side by side in one run.
 * `npm run bench` builds, then runs this.
 *
 *   node bench/bench.js [--quick] [--write] [--only LIST] [--runs N] [--dir DIR] [--keep]
 *
 *   --quick      fewer repetitions (2 per tree and hash comparison, 7 start-ups, 1 status)
 *   --write      also write bench/RESULTS.md
 *   --only LIST  some of: sign,import,verify,hash,startup,status (comma-separated)
 *   --runs N     repetitions of each tree and hash comparison (default 5)
 *   --dir DIR    where to build the corpora (default: the system temporary folder)
 *   --keep       leave the corpora in place
 *
 * What it measures (medians over the repetitions; in each repetition the two
 * sides run one after the other, their order swapped every time):
 *   1. sign a tree of 5,000 files of 4-20 KiB:
 *        ima-sidecar sign -r   vs   find | xargs -n1 -P$(nproc) evmctl ima_sign -n --sigfile
 *   2. import that tree's sidecars into the xattr:
 *        ima-sidecar import -r vs   xargs -n2 -P$(nproc) evmctl ima_setxattr --sigfile SIG FILE
 *                              and  a getfattr-style dump made from the sidecars + setfattr --restore
 *                              (and bench/import-floor.js, the least Node can do, reported)
 *   3. verify the tree from the xattrs:
 *        ima-sidecar verify -r --from xattr vs xargs -n50 -P$(nproc) evmctl ima_verify,
 *                                             and all files to one evmctl ima_verify
 *   4. hash one 1 GiB file: ima-sidecar hash vs evmctl ima_hash -n (wall time, peak RSS)
 *   5. start-up: ima-sidecar verify of one small file vs a bare `node -e 0`
 *   6. status -r over 100,000 tiny files, and over 10,000 (time, peak RSS)
 *
 * Fairness: each side gets a fresh copy of the corpus where the operation
 * writes (the copy and a `sync` are outside the timing); evmctl's side
 * includes everything a user has to run (find, pairing sidecars with their
 * files, the dump); both sides' output goes to /dev/null; the page cache is
 * warm for both (the corpora were just written or read).
 *
 * Needs only public tools: evmctl (Debian: ima-evm-utils), find and xargs
 * (findutils), setfattr (attr), base64 and sync (coreutils), sh, and GNU
 * time at /usr/bin/time for peak RSS (`/usr/bin/time -f %M`): Debian's
 * package `time` (apt-get install time); the script checks and says so.
 * hyperfine is not needed. As root it uses security.ima for every tool;
 * otherwise user.ima (evmctl --xattr-user, ima-sidecar --xattr user.ima),
 * so the folder must be on a filesystem with xattrs (ext4, xfs, btrfs;
 * tmpfs takes security.* but may refuse user.*).
 *
 * Disk: up to about 4.5 GiB in the folder while it runs (every round of a
 * comparison gets its own copies, removed when the comparison is over);
 * removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'ima-sidecar');
const KEYS = join(ROOT, 'test', 'fixtures', 'keys');
const KEY = join(KEYS, 'rsa2048.key.pem');
const CERT_PEM = join(KEYS, 'rsa2048.crt.pem');
const CERT_DER = join(KEYS, 'rsa2048.crt.der'); // evmctl verifies with DER only; ima-sidecar is given the same file
const TIME = '/usr/bin/time';
const ALL = ['sign', 'import', 'verify', 'hash', 'startup', 'status'];

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = { quick: false, write: false, only: ALL, runs: undefined, dir: tmpdir(), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (argv[i + 1] === undefined) die(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--write') o.write = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--only')
      o.only = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (a === '--runs') o.runs = Number(value());
    else if (a === '--dir') o.dir = value();
    else if (a === '-h' || a === '--help') {
      process.stdout.write(
        readFileSync(fileURLToPath(import.meta.url), 'utf8')
          .split('\n')
          .slice(2, 12)
          .map((l) => l.replace(/^ \* ?/, ''))
          .join('\n') + '\n',
      );
      process.exit(0);
    } else die(`unknown option ${a} (see --help)`);
  }
  for (const w of o.only) if (!ALL.includes(w)) die(`--only: unknown comparison ${w} (${ALL.join(', ')})`);
  if (o.runs !== undefined && !(Number.isInteger(o.runs) && o.runs >= 1))
    die('--runs must be a whole number, at least 1');
  o.treeRuns = o.runs ?? (o.quick ? 2 : 5);
  o.startRuns = o.quick ? 7 : 21;
  o.statusRuns = o.quick ? 1 : 3;
  return o;
}

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const log = (msg) => process.stderr.write(`${msg}\n`);

// ---------------------------------------------------------------- tools and machine

function sh(cmd, opts = {}) {
  return spawnSync('sh', ['-c', cmd], { encoding: 'utf8', ...opts });
}

function checkTools() {
  const missing = [];
  const need = [
    ['evmctl', 'evmctl --version', 'ima-evm-utils'],
    ['find', 'find --version', 'findutils'],
    ['xargs', 'xargs --version', 'findutils'],
    ['setfattr', 'setfattr --version', 'attr'],
    ['getfattr', 'getfattr --version', 'attr'],
    ['base64', 'base64 --version', 'coreutils'],
    ['sed', 'sed --version', 'sed'],
  ];
  for (const [name, cmd, pkg] of need)
    if (sh(`${cmd} >/dev/null 2>&1`).status !== 0) missing.push(`${name} (Debian package ${pkg})`);
  // GNU time: -f %M prints the peak RSS in KiB. Busybox's and the shell keyword have no -f.
  if (!existsSync(TIME) || spawnSync(TIME, ['-f', '%M', 'true'], { encoding: 'utf8' }).status !== 0)
    missing.push(`${TIME} with -f %M (GNU time: apt-get install time)`);
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')))
    missing.push('dist/ (run `npm run bench`, which builds first, or `npx tsc -p tsconfig.json`)');
  if (missing.length) die(`missing:\n  ${missing.join('\n  ')}`);
}

function firstLine(cmd) {
  const r = sh(cmd);
  return r.status === 0 ? (r.stdout || r.stderr).trim().split('\n')[0] : undefined;
}

/**
 * The corpora's filesystem, and for ext4 whether it has a journal. Without one,
 * the kernel will not reuse an inode deleted in the last 60 s (360 s while its
 * inode-table block is dirty) and scans past every such inode on each file
 * creation (fs/ext4/ialloc.c: find_inode_bit, recently_deleted; perf shows
 * recently_deleted and find_get_block_common at 20% of sign -r). So on such a
 * filesystem, creating files within minutes of deleting thousands costs up to
 * three times the system time: sign -r took 5.1-6.2 s with 1.4-1.9 s of system
 * time, 8.7-9.8 s with 5.4-6.5 s right after a 5,000-file tree was removed.
 */
function describeFilesystem(workDir) {
  const type = firstLine(`findmnt -n -o FSTYPE -T '${workDir}' 2>/dev/null`) ?? firstLine(`stat -f -c %T '${workDir}'`);
  if (type !== 'ext4') return type;
  const dev = firstLine(`findmnt -n -o SOURCE -T '${workDir}' 2>/dev/null`)?.replace(/^\/dev\//, '');
  let options;
  try {
    options = readFileSync(`/proc/fs/ext4/${dev}/options`, 'utf8');
  } catch {
    return type;
  }
  // A journalled ext4 lists its data= mode; one without a journal lists none.
  return /^data=/m.test(options) ? 'ext4' : 'ext4 without a journal';
}

/**
 * Settings in the environment that change what every Node process does
 * before its first line runs: NODE_EXTRA_CA_CERTS makes each start parse a
 * certificate bundle (docs/performance.md), which ours, the floors and
 * `node -e 0` all pay.
 */
function nodeStartEnvironment() {
  const set = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'].filter((k) => process.env[k]);
  return set.length ? set.map((k) => `${k}=${process.env[k]}`).join(', ') : 'none';
}

function machine(workDir) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    cores: availableParallelism(),
    nproc: Number(firstLine('nproc')),
    cpu: model.trim(),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    nodeStartEnv: nodeStartEnvironment(),
    systemOpenssl: firstLine('openssl version 2>/dev/null') ?? 'openssl(1) not installed',
    evmctl: firstLine('evmctl --version'),
    evmctlLibcrypto: firstLine('ldd "$(command -v evmctl)" | sed -n \'s/^\\s*\\(libcrypto[^ ]*\\).*/\\1/p\'') ?? '?',
    filesystem: describeFilesystem(workDir),
    commit: firstLine(`git -C '${ROOT}' rev-parse --short HEAD 2>/dev/null`) ?? '?',
    dirty:
      (firstLine(
        `git -C '${ROOT}' status --porcelain --untracked-files=no -- src bin package.json 2>/dev/null | wc -l`,
      ) ?? '0') !== '0',
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

// ---------------------------------------------------------------- measuring

/** Runs `cmd` under GNU time; wall time from here (ns resolution), peak RSS of the largest process from time(1). */
function measure(cmd, { cwd, direct } = {}) {
  const rssFile = join(state.work, '.rss');
  const argv = direct
    ? [TIME, '-f', '%M', '-o', rssFile, ...direct]
    : [TIME, '-f', '%M', '-o', rssFile, 'sh', '-c', cmd];
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  let rssKiB = NaN;
  try {
    rssKiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  } catch {
    /* time(1) did not write: the run failed */
  }
  if (r.status !== 0)
    throw new Error(`failed (exit ${r.status}): ${direct ? direct.join(' ') : cmd}\n${(r.stderr ?? '').slice(-2000)}`);
  return { ms, rssKiB };
}

/** Wall time of a command run directly (no shell, no time(1)): for start-up, where a millisecond matters. */
function measureDirect(argv) {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`failed (exit ${r.status}): ${argv.join(' ')}\n${r.stderr}`);
  return ms;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function spread(xs) {
  const m = median(xs);
  return m > 0 ? (Math.max(...xs) - Math.min(...xs)) / m : 0;
}

/**
 * Lets the disk settle between sides (untimed): a side that leaves dirty pages
 * (evmctl never flushes) would otherwise have them written back during the
 * next side's run, whose flushes then wait for them (sign -r took 6.5-7 s after
 * a settled disk and 10.3-10.6 s right after evmctl's run). Every side of a
 * round gets its copy made first, then this, then the runs; copies are removed
 * only when the whole comparison is done, and sign (the one timed run that
 * creates files) comes first: on ext4 without a journal, file creation
 * within minutes of a large delete costs up to three times its system time
 * (see describeFilesystem).
 */
function settle() {
  run('sync', 'sync');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
}

/**
 * Runs each side `runs` times, alternating which goes first; `prepare(side, i)`
 * (untimed) returns the directory to work in, `check(side, dir)` validates the
 * result, `cleanup(dir)` removes a fresh copy.
 */
function sideBySide(sides, runs, { prepare, check, cleanup } = {}) {
  const results = Object.fromEntries(sides.map((s) => [s.name, { ms: [], rssKiB: [] }]));
  // Every copy stays until the comparison is over: a large delete makes the next thousands of
  // file creations cost several times their system time (see settle), whichever side comes next.
  const made = [];
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? sides : [...sides].reverse();
    const dirs = new Map(order.map((side) => [side.name, prepare ? prepare(side, i) : undefined]));
    if (prepare) settle();
    for (const [k, side] of order.entries()) {
      const dir = dirs.get(side.name);
      if (prepare && k > 0) settle();
      const m = side.run(dir);
      if (check) check(side, dir);
      results[side.name].ms.push(m.ms);
      results[side.name].rssKiB.push(m.rssKiB);
      log(
        `  ${side.name.padEnd(12)} run ${i + 1}/${runs}: ${fmtMs(m.ms)}` +
          `${Number.isFinite(m.rssKiB) ? `, peak RSS ${fmtKiB(m.rssKiB)}` : ''}`,
      );
    }
    for (const dir of dirs.values()) if (dir) made.push(dir);
  }
  if (cleanup) for (const dir of made) cleanup(dir);
  return results;
}

const fmtMs = (ms) =>
  ms >= 10000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms >= 1000
      ? `${(ms / 1000).toFixed(2)} s`
      : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
const fmtKiB = (k) => `${(k / 1024).toFixed(k >= 102400 ? 0 : 1)} MiB`;
const fmtRatio = (r) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;

// ---------------------------------------------------------------- corpora

const state = { work: '', attr: 'security.ima', evmUser: '', oursXattr: '' };

/** mulberry32: the same sizes every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 5,000 files of 4-20 KiB in 10 x 10 directories of 50, random content. */
function makeTree(dir) {
  const rnd = prng(6);
  let bytes = 0;
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 10; b++) {
      const d = join(dir, `pkg${a}`, `lib${b}`);
      mkdirSync(d, { recursive: true });
      for (let i = 0; i < 50; i++) {
        const size = 4096 + Math.floor(rnd() * (16 * 1024 + 1));
        writeFileSync(join(d, `file${String(i).padStart(2, '0')}.so`), randomBytes(size));
        bytes += size;
      }
    }
  }
  return bytes;
}

/** `files` tiny files (64 bytes), each with a sidecar (a copy of one real signature), 1,000 per directory. */
function makeTinyTree(dir, files, sig) {
  const content = Buffer.alloc(64, 0x61);
  for (let i = 0; i < files; i++) {
    const d = join(dir, `d${String(Math.floor(i / 1000)).padStart(3, '0')}`);
    if (i % 1000 === 0) mkdirSync(d, { recursive: true });
    const f = join(d, `f${String(i % 1000).padStart(3, '0')}`);
    writeFileSync(f, content);
    writeFileSync(`${f}.sig`, sig);
  }
}

function makeBigFile(path, bytes) {
  const fd = openSync(path, 'w');
  const chunk = randomBytes(16 << 20);
  for (let done = 0; done < bytes; done += chunk.length) {
    chunk[0] = done & 0xff; // not one repeated block
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
  }
  closeSync(fd);
}

function run(cmd, what) {
  const r = sh(cmd, { maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status}: ${cmd}\n${(r.stderr ?? '').slice(-2000)}`);
  return r.stdout;
}

const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

function freshCopy(src, name) {
  const dst = join(state.work, name);
  rmSync(dst, { recursive: true, force: true });
  run(`cp -a ${q(src)} ${q(dst)} && sync`, 'copy');
  return dst;
}

function listFiles(dir, pred) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (pred(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function xattrOf(file) {
  const r = spawnSync('getfattr', ['--only-values', '-n', state.attr, file]);
  return r.status === 0 ? r.stdout : undefined;
}

// ---------------------------------------------------------------- the comparisons

const ours = (args) => `${q(BIN)} ${args}`;

function benchSign(o, c) {
  log('\n1. sign a tree of 5,000 files');
  const sample = listFiles(c.tree, () => true).filter((_, i) => i % 250 === 0);
  const sides = [
    { name: 'ima-sidecar', cmd: ours(`sign -r -k ${q(KEY)} -c ${q(CERT_PEM)} DIR`) },
    {
      name: 'evmctl',
      cmd: `find DIR -type f -print0 | xargs -0 -n1 -P$(nproc) evmctl ima_sign -n --sigfile -k ${q(KEY)}`,
    },
  ].map((s) => ({ ...s, run: (dir) => measure(`${s.cmd.replaceAll('DIR', q(dir))} >/dev/null 2>&1`) }));
  const res = sideBySide(sides, o.treeRuns, {
    // A name per round: freshCopy removes what has the name, and a removal before the next runs is
    // what must not happen (see settle).
    prepare: (side, i) => freshCopy(c.tree, `sign-${side.name}-${i}`),
    check: (side, dir) => {
      const n = listFiles(dir, (f) => f.endsWith('.sig')).length;
      if (n !== 5000) throw new Error(`${side.name} sign: ${n} sidecars, expected 5000`);
      for (const f of sample) {
        const got = readFileSync(join(dir, f.slice(c.tree.length)) + '.sig');
        if (!got.equals(readFileSync(join(c.signed, f.slice(c.tree.length)) + '.sig')))
          throw new Error(`${side.name} sign: ${f}.sig differs from the reference`);
      }
    },
    cleanup: (dir) => rmSync(dir, { recursive: true, force: true }),
  });
  return {
    id: 'sign',
    title: 'sign tree, 5,000 files of 4-20 KiB',
    sides,
    res,
    ours: 'ima-sidecar',
    others: ['evmctl'],
  };
}

function benchImport(o, c) {
  log("\n2. import the tree's sidecars into the xattr");
  const sample = listFiles(c.tree, () => true)
    .filter((_, i) => i % 250 === 0)
    .map((f) => f.slice(c.tree.length));
  const dumpCmd =
    `find DIR -type f -name '*.sig' -print0 | xargs -0 -n200 -P$(nproc) sh -c ` +
    q(`for s do printf '# file: %s\\n${state.attr}=0s%s\\n\\n' "\${s%.sig}" "$(base64 -w0 "$s")"; done`) +
    ` sh > DIR.dump && setfattr --restore=DIR.dump`;
  const sides = [
    { name: 'ima-sidecar', cmd: ours(`import -r ${state.oursXattr}DIR`) },
    {
      name: 'evmctl',
      cmd:
        "find DIR -type f -name '*.sig' -printf '%p\\0%p\\0' | sed -z 'n;s/\\.sig$//' | " +
        `xargs -0 -n2 -P$(nproc) evmctl ima_setxattr ${state.evmUser}--sigfile`,
    },
    { name: 'shell', cmd: dumpCmd },
    // Not a competitor: the least a Node process can do (bench/import-floor.js), to show how much of the gap is Node's.
    { name: 'node floor', cmd: `node ${q(join(ROOT, 'bench', 'import-floor.js'))} DIR ${state.attr}` },
  ].map((s) => ({ ...s, run: (dir) => measure(`${s.cmd.replaceAll('DIR', q(dir))} >/dev/null 2>&1`) }));
  const res = sideBySide(sides, o.treeRuns, {
    prepare: (side, i) => freshCopy(c.signed, `import-${side.name.replace(/ /g, '-')}-${i}`),
    check: (side, dir) => {
      for (const rel of sample) {
        const x = xattrOf(join(dir, rel));
        if (!x || !x.equals(readFileSync(join(dir, rel) + '.sig')))
          throw new Error(`${side.name} import: ${rel} has no or a wrong ${state.attr}`);
      }
      rmSync(`${dir}.dump`, { force: true });
    },
    cleanup: (dir) => rmSync(dir, { recursive: true, force: true }),
  });
  return {
    id: 'import',
    title: 'import tree, 5,000 sidecars',
    sides,
    res,
    ours: 'ima-sidecar',
    others: ['evmctl', 'shell'],
  };
}

function benchVerify(o, c) {
  log('\n3. verify the tree from the xattrs');
  const sides = [
    { name: 'ima-sidecar', cmd: ours(`verify -r --from xattr ${state.oursXattr}-c ${q(CERT_DER)} DIR`) },
    {
      name: 'evmctl',
      cmd:
        "find DIR -type f ! -name '*.sig' -print0 | " +
        `xargs -0 -n50 -P$(nproc) evmctl ima_verify ${state.evmUser}-k ${q(CERT_DER)}`,
    },
    // Not a competitor: the least a Node process can do (bench/verify-floor.js), to show how much of the gap is Node's.
    { name: 'node floor', cmd: `node ${q(join(ROOT, 'bench', 'verify-floor.js'))} ${q(CERT_DER)} DIR ${state.attr}` },
    // All the files given to one evmctl process (as far as xargs can fit them on one command line): evmctl's best.
    {
      name: 'evmctl, one process',
      cmd: `find DIR -type f ! -name '*.sig' -print0 | xargs -0 evmctl ima_verify ${state.evmUser}-k ${q(CERT_DER)}`,
    },
  ].map((s) => ({ ...s, run: () => measure(`${s.cmd.replaceAll('DIR', q(c.xattrs))} >/dev/null 2>&1`) }));
  const res = sideBySide(sides, o.treeRuns);
  return {
    id: 'verify',
    title: 'verify tree from xattrs, 5,000 files',
    sides,
    res,
    ours: 'ima-sidecar',
    others: ['evmctl'],
  };
}

function benchHash(o, c) {
  log('\n4. hash one 1 GiB file');
  const a = run(ours(`hash ${q(c.big)}`), 'hash').split(' ')[0];
  const b = run(`evmctl ima_hash -n ${q(c.big)} 2>/dev/null`, 'evmctl ima_hash').trim();
  if (a !== b) throw new Error(`hash: ima-sidecar says ${a}, evmctl ${b}`);
  const sides = [
    { name: 'ima-sidecar', cmd: ours('hash BIG'), direct: [BIN, 'hash', c.big] },
    { name: 'evmctl', cmd: 'evmctl ima_hash -n BIG', direct: ['evmctl', 'ima_hash', '-n', c.big] },
  ].map((s) => ({ ...s, run: () => measure('', { direct: s.direct }) }));
  const res = sideBySide(sides, o.treeRuns);
  return { id: 'hash', title: 'hash one 1 GiB file', sides, res, ours: 'ima-sidecar', others: ['evmctl'] };
}

function benchStartup(o, c) {
  log('\n5. start-up: verify one small file');
  const sides = [
    {
      name: 'ima-sidecar',
      cmd: ours(`verify ${state.oursXattr}-c ${q(CERT_DER)} FILE`),
      argv: [BIN, 'verify', ...(state.oursXattr ? ['--xattr', state.attr] : []), '-c', CERT_DER, c.one],
    },
    { name: 'node -e 0', cmd: 'node -e 0', argv: [process.execPath, '-e', '0'] },
  ];
  for (const s of sides) for (let i = 0; i < 3; i++) measureDirect(s.argv); // warm the page cache
  const res = Object.fromEntries(sides.map((s) => [s.name, { ms: [], rssKiB: [] }]));
  for (let i = 0; i < o.startRuns; i++) {
    for (const s of i % 2 ? [...sides].reverse() : sides) res[s.name].ms.push(measureDirect(s.argv));
  }
  for (const s of sides) res[s.name].rssKiB.push(measure('', { direct: s.argv }).rssKiB);
  for (const s of sides)
    log(
      `  ${s.name.padEnd(12)} median of ${o.startRuns}: ${fmtMs(median(res[s.name].ms))} ` +
        `(min ${fmtMs(Math.min(...res[s.name].ms))})`,
    );
  return {
    id: 'startup',
    title: 'start-up: verify one small file (sidecar and xattr)',
    sides,
    res,
    ours: 'ima-sidecar',
    others: ['node -e 0'],
  };
}

function benchStatus(o, c) {
  log('\n6. status over 100,000 and 10,000 tiny files');
  const sides = [
    { name: '100,000 files', cmd: ours(`status -r ${state.oursXattr}DIR`), dir: c.tiny100k },
    { name: '10,000 files', cmd: ours(`status -r ${state.oursXattr}DIR`), dir: c.tiny10k },
  ].map((s) => ({ ...s, run: () => measure(`${s.cmd.replaceAll('DIR', q(s.dir))} >/dev/null 2>&1`) }));
  const res = sideBySide(sides, o.statusRuns);
  return {
    id: 'status',
    title: 'status -r of tiny files (each with a sidecar)',
    sides,
    res,
    ours: '100,000 files',
    others: ['10,000 files'],
  };
}

// ---------------------------------------------------------------- the table

/**
 * The row of a comparison's Node floor side (bench/*-floor.js), reported
 * against the side `against`; `ratio(x)` words against's time / the floor's.
 */
function floorRow(r, script, against, ratio) {
  const med = (side) => median(r.res[side].ms);
  return {
    what: `${r.id} tree: the Node floor (bench/${script}, one thread, no checks)`,
    ours: fmtMs(med(r.ours)),
    other: `node floor: ${fmtMs(med('node floor'))}; ${against}: ${fmtMs(med(against))}`,
    ratio: ratio(med(against) / med('node floor')),
    goal: '(reported)',
    met: undefined,
  };
}

function rows(results) {
  const out = [];
  const med = (r, side) => median(r.res[side].ms);
  const rss = (r, side) => median(r.res[side].rssKiB);
  for (const r of results) {
    const m = r.ours;
    if (r.id === 'sign' || r.id === 'import') {
      for (const other of r.others) {
        const ratio = med(r, other) / med(r, m);
        out.push({
          what: r.title,
          ours: fmtMs(med(r, m)),
          other:
            `${other === 'shell' ? 'dump + setfattr --restore' : 'evmctl, xargs -P$(nproc)'}: ` +
            `${fmtMs(med(r, other))}`,
          ratio: `${fmtRatio(ratio)} faster`,
          goal: other === 'shell' ? 'at least 4x faster' : 'at least 5x faster',
          met: ratio >= (other === 'shell' ? 4 : 5),
        });
      }
      if (r.id === 'import')
        out.push(floorRow(r, 'import-floor.js', 'shell', (x) => `floor is ${fmtRatio(x)} faster than the shell`));
    } else if (r.id === 'verify') {
      const ratio = med(r, 'evmctl') / med(r, m);
      out.push({
        what: r.title,
        ours: fmtMs(med(r, m)),
        other: `evmctl, xargs -n50 -P$(nproc): ${fmtMs(med(r, 'evmctl'))}`,
        ratio: `${fmtRatio(ratio)} faster`,
        goal: '(reported)',
        met: undefined,
      });
      const one = med(r, 'evmctl, one process');
      out.push({
        what: `${r.title}, against one evmctl process`,
        ours: fmtMs(med(r, m)),
        other: `evmctl, all files to one process: ${fmtMs(one)}`,
        ratio: `${fmtRatio(one / med(r, m))} faster`,
        goal: '(reported)',
        met: undefined,
      });
      out.push(floorRow(r, 'verify-floor.js', 'evmctl', (x) => `floor is ${fmtRatio(x)} evmctl's speed`));
    } else if (r.id === 'hash') {
      const ratio = med(r, m) / med(r, 'evmctl');
      out.push({
        what: r.title,
        ours: fmtMs(med(r, m)),
        other: `evmctl ima_hash: ${fmtMs(med(r, 'evmctl'))}`,
        ratio: `${fmtRatio(ratio)} evmctl's time`,
        goal: 'within 1.25x',
        met: ratio <= 1.25,
      });
      out.push({
        what: 'hash one 1 GiB file: peak RSS',
        ours: fmtKiB(rss(r, m)),
        other: `evmctl: ${fmtKiB(rss(r, 'evmctl'))}`,
        ratio: '',
        goal: 'under 150 MiB',
        met: rss(r, m) < 150 * 1024,
      });
    } else if (r.id === 'startup') {
      const ratio = med(r, m) / med(r, 'node -e 0');
      out.push({
        what: r.title,
        ours: fmtMs(med(r, m)),
        other: `node -e 0: ${fmtMs(med(r, 'node -e 0'))}`,
        ratio: `${fmtRatio(ratio)} node's time`,
        goal: 'within 2x',
        met: ratio <= 2,
      });
    } else if (r.id === 'status') {
      const a = rss(r, '100,000 files');
      const b = rss(r, '10,000 files');
      out.push({
        what: 'status -r, 100,000 tiny files: time',
        ours: fmtMs(med(r, '100,000 files')),
        other: `10,000 files: ${fmtMs(med(r, '10,000 files'))}`,
        ratio: `${fmtRatio(med(r, '100,000 files') / med(r, '10,000 files'))} the time`,
        goal: '(reported)',
        met: undefined,
      });
      out.push({
        what: 'status -r, 100,000 tiny files: peak RSS',
        ours: fmtKiB(a),
        other: `10,000 files: ${fmtKiB(b)}`,
        ratio: `${fmtRatio(a / b)} the RSS`,
        goal: 'under 200 MiB and within 1.5x',
        met: a < 200 * 1024 && a / b <= 1.5,
      });
    }
  }
  return out;
}

function table(rs) {
  const head = ['benchmark', 'ima-sidecar', 'compared with', 'ratio', 'goal', 'met'];
  const body = rs.map((r) => [
    r.what,
    r.ours,
    r.other,
    r.ratio,
    r.goal,
    r.met === undefined ? '' : r.met ? 'yes' : '**no**',
  ]);
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
}

function commandsUsed(results) {
  const lines = [];
  for (const r of results) for (const s of r.sides) lines.push(`- ${r.id}, ${s.name}: \`${s.cmd}\``);
  return lines.join('\n');
}

function spreadNote(results) {
  const lines = [];
  for (const r of results) {
    for (const s of r.sides) {
      const xs = r.res[s.name].ms;
      lines.push(
        `${r.id}/${s.name}: ${xs.length} runs, median ${fmtMs(median(xs))}, ` +
          `min ${fmtMs(Math.min(...xs))}, max ${fmtMs(Math.max(...xs))} (spread ${(100 * spread(xs)).toFixed(0)}%)`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  checkTools();
  mkdirSync(o.dir, { recursive: true });
  state.work = mkdtempSync(join(resolve(o.dir), 'ima-sidecar-bench-'));
  const root = process.getuid?.() === 0;
  state.attr = root ? 'security.ima' : 'user.ima';
  state.evmUser = root ? '' : '--xattr-user ';
  state.oursXattr = root ? '' : '--xattr user.ima ';
  const cleanup = () => {
    if (!o.keep) rmSync(state.work, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const probe = join(state.work, 'probe');
    writeFileSync(probe, 'x');
    if (sh(`setfattr -n ${state.attr} -v 0x00 ${q(probe)}`).status !== 0)
      die(`${state.work}: cannot set ${state.attr} there (a filesystem with xattrs is needed; use --dir)`);
    const mach = machine(state.work);
    const loadBefore = loadavg();
    log(
      `bench: ${mach.cpu}, ${mach.cores} cores, Linux ${mach.kernel}, ` +
        `Node ${mach.node} (OpenSSL ${mach.nodeOpenssl}), ${mach.evmctl}; ` +
        `corpora in ${state.work} (${mach.filesystem}); xattr ${state.attr}; ` +
        `load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`,
    );
    if (mach.filesystem === 'ext4 without a journal' && o.only.includes('sign'))
      log(
        'bench: note: the corpora are on ext4 without a journal, ' +
          'where creating files within 6 minutes of deleting thousands costs up to 3x the system time ' +
          '(see describeFilesystem); sign -r is only comparable on a disk left alone that long',
      );
    if (loadBefore[0] > mach.cores / 2)
      log(
        `bench: warning: the load average (${loadBefore[0].toFixed(2)}) is high for ${mach.cores} cores; ` +
          'the numbers will be noisy',
      );

    // Corpora.
    const want = new Set(o.only);
    const c = {};
    const t0 = Date.now();
    if (want.has('sign') || want.has('import') || want.has('verify')) {
      c.tree = join(state.work, 'tree');
      const bytes = makeTree(c.tree);
      log(`corpus: 5,000 files, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
      c.signed = freshCopy(c.tree, 'signed');
      run(`${ours(`sign -r -q -k ${q(KEY)} -c ${q(CERT_PEM)} ${q(c.signed)}`)}`, 'signing the reference tree');
      // The reference sidecars are evmctl's own bytes for a sample (RSA PKCS#1 v1.5 is deterministic).
      for (const f of listFiles(c.signed, (n) => !n.endsWith('.sig')).filter((_, i) => i % 500 === 0)) {
        const hex = run(`evmctl ima_sign -n -k ${q(KEY)} ${q(f)} 2>/dev/null`, 'evmctl ima_sign')
          .trim()
          .split('\n')
          .pop();
        if (hex !== readFileSync(`${f}.sig`).toString('hex'))
          throw new Error(`reference: ima-sidecar's ${f}.sig differs from evmctl's signature`);
      }
      c.xattrs = freshCopy(c.signed, 'xattrs');
      run(`${ours(`import -r -q ${state.oursXattr}${q(c.xattrs)}`)}`, 'importing the reference tree');
    }
    if (want.has('hash')) {
      c.big = join(state.work, 'big.img');
      makeBigFile(c.big, 1 << 30);
      run(`cat ${q(c.big)} >/dev/null`, 'warming the cache');
    }
    if (want.has('startup')) {
      c.oneDir = join(state.work, 'one');
      mkdirSync(c.oneDir);
      c.one = join(c.oneDir, 'small.so');
      writeFileSync(c.one, randomBytes(4096));
      run(
        `${ours(`sign -q --to both ${state.oursXattr}-k ${q(KEY)} -c ${q(CERT_PEM)} ${q(c.one)}`)}`,
        'signing the start-up file',
      );
    }
    if (want.has('status')) {
      const sig = Buffer.from(
        run(`evmctl ima_sign -n -k ${q(KEY)} ${q(BIN)} 2>/dev/null`, 'evmctl ima_sign')
          .trim()
          .split('\n')
          .pop(),
        'hex',
      );
      c.tiny10k = join(state.work, 'tiny10k');
      c.tiny100k = join(state.work, 'tiny100k');
      makeTinyTree(c.tiny10k, 10000, sig);
      makeTinyTree(c.tiny100k, 100000, sig);
      run('sync', 'sync');
    }
    log(`corpora built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    const results = [];
    const benches = {
      sign: benchSign,
      import: benchImport,
      verify: benchVerify,
      hash: benchHash,
      startup: benchStartup,
      status: benchStatus,
    };
    for (const id of ALL) if (want.has(id)) results.push(benches[id](o, c));
    const loadAfter = loadavg();

    const rs = rows(results);
    const tbl = table(rs);
    const machineLines = [
      `- CPU: ${mach.cpu}, ${mach.cores} cores (nproc ${mach.nproc}), ${mach.memory}`,
      `- Linux ${mach.kernel}; corpora on ${mach.filesystem}; xattr ${state.attr}`,
      `- Node ${mach.node} with OpenSSL ${mach.nodeOpenssl}; ` +
        `${mach.evmctl} with ${mach.evmctlLibcrypto} (${mach.systemOpenssl})`,
      `- Node start-up settings in the environment (every Node side pays them): ${mach.nodeStartEnv}`,
      `- ima-sidecar ${mach.commit}${mach.dirty ? ' with uncommitted changes' : ''}, ` +
        `running the bundle (dist/src/cli/bundle.cjs); ${mach.date}`,
      `- load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, ` +
        `after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`,
      `- repetitions: ${o.treeRuns} per tree and hash comparison, ${o.startRuns} start-ups, ` +
        `${o.statusRuns} per status size${o.quick ? ' (--quick)' : ''}; medians`,
    ].join('\n');
    process.stdout.write(`\n${tbl}\n\n${machineLines}\n\n${spreadNote(results)}\n`);
    if (o.write) {
      const md = [
        '# Benchmark results',
        '',
        `Made by \`npm run bench -- --write${o.quick ? ' --quick' : ''}\` (bench/bench.js). ` +
          'Medians; ratios of medians measured side by side in the same run.',
        '',
        tbl,
        '',
        '## Machine',
        '',
        machineLines,
        '',
        '## Runs',
        '',
        '```',
        spreadNote(results),
        '```',
        '',
        '## Commands',
        '',
        'DIR is a fresh copy of the corpus for each run where the command writes; output goes to /dev/null.',
        '',
        commandsUsed(results),
        '',
      ].join('\n');
      writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), md);
      log('wrote bench/RESULTS.md');
    }
    const failed = rs.filter((r) => r.met === false);
    if (failed.length) log(`goals not met: ${failed.map((r) => r.what).join('; ')}`);
  } finally {
    cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  process.exitCode = 2;
});
