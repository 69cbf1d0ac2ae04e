// Files in flight (--jobs) change how fast a tree is done, never what is said about it: the same
// lines, records, exit status and xattrs as one at a time, on a tree with every kind of entry.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, fixture, jsonOutput, run, runCli, type RunResult, show, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const ATTR = ['--xattr', 'user.ima'];

/**
 * 70 files over nested directories (more than a few batches), signed into
 * sidecars, with a bad, an unsigned, an orphan, a symlink and a non-UTF-8 name.
 */
async function makeTree(t: TestContext): Promise<string> {
  const dir = await tempDir(t);
  for (let i = 0; i < 70; i++) {
    const sub = join(dir, `d${i % 3}`, `e${i % 2}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `f${String(i).padStart(2, '0')}`), `content ${i}\n`.repeat(i + 1));
  }
  await writeFile(Buffer.from(join(dir, 'd0', 'caf\xe9-latin1'), 'latin1'), 'latin-1 name\n');
  const s = await runCli(['sign', '-r', '-k', KEY, '-c', CERT, '.'], { cwd: dir });
  assert.equal(s.status, 0, show(s));
  await writeFile(join(dir, 'd1', 'unsigned'), 'no signature\n');
  await writeFile(join(dir, 'd1', 'e1', 'f01'), 'changed after signing\n');
  await writeFile(join(dir, 'd2', 'gone.sig'), await readFile(join(dir, 'd0', 'e0', 'f00.sig')));
  await symlink('e0/f00', join(dir, 'd0', 'link'));
  return dir;
}

/** The output with the run's duration taken out. */
function comparable(r: RunResult): { status: number | null; stdout: string; stderr: string } {
  return {
    status: r.status,
    stdout: r.stdout.replace(/"seconds":[0-9.]+/g, '"seconds":0'),
    stderr: r.stderr.replace(/\(\d+\.\d+ s\)/g, '(T)'),
  };
}

async function sameEitherWay(args: string[], cwd: string): Promise<RunResult> {
  const one = await runCli([...args, '--jobs', '1'], { cwd });
  const many = await runCli([...args, '--jobs', '16'], { cwd });
  assert.deepEqual(comparable(many), comparable(one), `--jobs 16:\n${show(many)}\n--jobs 1:\n${show(one)}`);
  return one;
}

describe('--jobs', () => {
  test('verify, status and their --json say the same with many files in flight as with one', async (t) => {
    const dir = await makeTree(t);
    const v = await sameEitherWay(['verify', '-r', '-c', CERT, '.'], dir);
    assert.equal(v.status, 1, show(v));
    assert.match(v.stderr, /d1\/e1\/f01: failed: digest mismatch/);
    assert.match(v.stderr, /d1\/unsigned: failed: no signature/);
    assert.match(v.stdout, /d2\/gone: orphan: sidecar \.\/d2\/gone\.sig has no file beside it/);
    assert.match(v.stdout, /d0\/caf\\xe9-latin1: ok/);
    assert.equal(v.stdout.split('\n').filter((l) => / ok /.test(l) || l.endsWith(': ok')).length >= 60, true, show(v));
    const j = await sameEitherWay(['verify', '-r', '--json', '-c', CERT, '.'], dir);
    assert.equal(jsonOutput(j.stdout).records.length, 74, 'every target, the orphan and the symlink');
    await sameEitherWay(['status', '-r', '.'], dir);
    await sameEitherWay(['status', '-r', '--json', '-c', CERT, '.'], dir);
  });

  test('import writes the same xattrs and says the same with many files in flight as with one', async (t) => {
    if (!haveCommand('getfattr')) return skipOrFail(t, 'needs getfattr (attr)');
    const base = await makeTree(t);
    const probe = await run('setfattr', ['-n', 'user.probe', '-v', '1', join(base, 'd1', 'unsigned')]);
    if (probe.status !== 0) return skipOrFail(t, `the temp directory takes no user xattrs: ${probe.stderr.trim()}`);
    const results: RunResult[] = [];
    const dumps: string[] = [];
    for (const jobs of ['1', '16']) {
      const dir = `${base}-${jobs}`;
      // cp -a: fs.cp cannot copy a name that is not UTF-8.
      const c = await run('cp', ['-a', base, dir]);
      assert.equal(c.status, 0, show(c));
      t.after(() => run('rm', ['-rf', dir]));
      results.push(await runCli(['import', '-r', '--verify', '-c', CERT, ...ATTR, '--jobs', jobs, '.'], { cwd: dir }));
      const d = await run('getfattr', ['-R', '-P', '-n', 'user.ima', '-e', 'hex', '.'], { cwd: dir });
      dumps.push(d.stdout);
    }
    assert.deepEqual(comparable(results[1]!), comparable(results[0]!), `${show(results[1]!)}\n${show(results[0]!)}`);
    assert.equal(results[0]!.status, 1, show(results[0]!));
    assert.match(results[0]!.stderr, /d1\/e1\/f01: .*digest mismatch/);
    assert.ok(dumps[0]!.length > 0 && dumps[0] === dumps[1], 'the same xattrs either way');
  });

  test('standard output and standard error keep their order when they go to the same pipe', async (t) => {
    const dir = await makeTree(t);
    const r = await run('sh', ['-c', `"$0" "$1" verify -r -c "$2" . 2>&1`, process.execPath, BIN, CERT], { cwd: dir });
    assert.equal(r.status, 1, show(r));
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('./'));
    const paths = lines.map((l) => l.slice(0, l.indexOf(': ')));
    assert.ok(lines.some((l) => / failed: /.test(l)) && lines.some((l) => /: ok /.test(l)), r.stdout);
    assert.deepEqual(
      paths,
      [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      'failures (stderr) in path order among the ok lines (stdout)',
    );
  });
});

test(
  'under a low open-file limit (ulimit -n 64) the default files in flight shrink ' +
    'to fit: a 300-file tree is signed, verified and imported without EMFILE',
  async (t) => {
    const dir = await tempDir(t);
    for (let d = 0; d < 3; d++) {
      await mkdir(join(dir, `d${d}`));
      for (let i = 0; i < 100; i++) await writeFile(join(dir, `d${d}`, `f${i}`), `file ${d}/${i}\n`.repeat(50));
    }
    const limited = (args: string[]) =>
      run('sh', ['-c', 'ulimit -n 64 && exec "$@"', 'sh', BIN, ...args], { cwd: dir });
    for (const args of [
      ['sign', '-r', '-q', '-k', KEY, '-c', CERT, '.'],
      ['verify', '-r', '-q', '-c', CERT, '.'],
      ['import', '-r', '-q', ...ATTR, '.'],
    ]) {
      const r = await limited(args);
      assert.equal(r.status, 0, `${args[0]}: ${show(r)}`);
      assert.doesNotMatch(r.stderr, /EMFILE|too many open files/i, show(r));
    }
  },
);
