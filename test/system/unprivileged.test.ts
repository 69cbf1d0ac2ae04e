// Issue 3 as an unprivileged user: the real command line run as nobody (no capabilities, via runAsNobody)
// on an ext4 loop mount. Writing or removing security.ima needs CAP_SYS_ADMIN and must fail with a
// message that says so (exit 1, nothing written); `--xattr user.ima` must work for the file's owner,
// and what it writes must be what evmctl --xattr-user reads. FAT as nobody is still just `unsupported`.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, fixture, jsonOutput, run, runCli, show, type RunResult as CliResult } from '../helpers/cli.js';
import { nobodyIds, runAsNobody, useMount, type RunResult } from '../helpers/mounts.js';
import { missing, skipOrFail } from '../helpers/skip.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const CERT_DER = fixture('keys/rsa2048.crt.der');
const SIGN = ['--key', KEY, '--cert', CERT];
const CAP_MESSAGE =
  'permission denied: writing security.ima needs CAP_SYS_ADMIN (run as root, or use --xattr user.ima)';

type Rec = Record<string, unknown>;

function toolsMissing(t: TestContext): boolean {
  const why = missing({ root: true, commands: ['evmctl', 'getfattr', 'setpriv'] });
  if (why) skipOrFail(t, why);
  return why !== undefined;
}

/** bin/ima-sidecar as nobody, with the exit status checked. */
async function asNobody(args: string[], status: number): Promise<RunResult> {
  const r = await runAsNobody(process.execPath, [BIN, ...args]);
  assert.equal(
    r.status,
    status,
    `(as nobody) ima-sidecar ${args.join(' ')}\n${show({ ...r, stdoutBytes: Buffer.from(r.stdout) })}`,
  );
  return r;
}

async function asRoot(args: string[], status: number): Promise<CliResult> {
  const r = await runCli(args);
  assert.equal(r.status, status, `ima-sidecar ${args.join(' ')}\n${show(r)}`);
  return r;
}

function records(stdout: string): Rec[] {
  return jsonOutput(stdout).records;
}

async function xattrOf(path: string, name: string): Promise<Buffer | undefined> {
  const r = await run('getfattr', ['--absolute-names', '--only-values', '-h', '-n', name, '--', path]);
  if (r.status === 0) return r.stdoutBytes;
  if (/No such attribute/.test(r.stderr)) return undefined;
  throw new Error(`getfattr ${name} ${path}: ${show(r)}`);
}

test('as nobody on ext4: security.ima needs CAP_SYS_ADMIN, user.ima works', async (t) => {
  if (toolsMissing(t)) return;
  const m = await useMount(t, 'ext4');
  if (!m) return;
  const { uid, gid } = nobodyIds();
  const dir = join(m.dir, 'nobody');
  await mkdir(dir);
  await chown(dir, uid, gid);
  const files = ['a.txt', 'b.bin'].map((n) => join(dir, n));
  await writeFile(files[0]!, 'owned by nobody\n');
  await writeFile(files[1]!, Buffer.alloc(50_000, 7));
  for (const f of files) await chown(f, uid, gid);
  // Sidecars made by root (readable by all), as a build machine would ship them.
  await asRoot(['sign', '-q', ...SIGN, ...files], 0);
  const sidecars = await Promise.all(files.map((f) => readFile(`${f}.sig`)));

  await t.test(
    'import into security.ima fails with the CAP_SYS_ADMIN message and exit 1, writing nothing',
    async () => {
      const r = await asNobody(['import', '-r', dir], 1);
      assert.deepEqual(
        r.stderr.trim().split('\n').slice(0, files.length),
        files.map((f) => `${f}: failed: ${CAP_MESSAGE}`),
      );
      assert.equal(r.stdout, '');
      for (const f of files) assert.equal(await xattrOf(f, 'security.ima'), undefined);
    },
  );

  await t.test('with --xattr user.ima it works, and a second run is unchanged', async () => {
    const recs = records((await asNobody(['import', '-r', '--json', '--xattr', 'user.ima', dir], 0)).stdout);
    assert.deepEqual(
      recs.map((x) => x.status),
      ['imported', 'imported'],
    );
    for (const [i, f] of files.entries()) {
      assert.deepEqual(await xattrOf(f, 'user.ima'), sidecars[i], f);
      assert.equal(await xattrOf(f, 'security.ima'), undefined);
    }
    const again = records((await asNobody(['import', '-r', '--json', '--xattr', 'user.ima', dir], 0)).stdout);
    assert.deepEqual(
      again.map((x) => x.status),
      ['unchanged', 'unchanged'],
    );
  });

  await t.test('status, verify and evmctl --xattr-user agree, as nobody', async () => {
    const st = records(
      (await asNobody(['status', '-r', '--json', '--xattr', 'user.ima', '--cert', CERT, dir], 0)).stdout,
    );
    for (const x of st) {
      assert.equal(x.status, 'in-sync');
      assert.deepEqual(x.verified, { sidecar: 'ok', xattr: 'ok' });
    }
    await asNobody(['verify', '-r', '--from', 'xattr', '--xattr', 'user.ima', '--cert', CERT, dir], 0);
    for (const f of files) {
      const r = await runAsNobody('evmctl', ['ima_verify', '--xattr-user', '--key', CERT_DER, f]);
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    }
  });

  await t.test('removing security.ima fails the same way; export of user.ima works', async () => {
    // Root puts a signature into security.ima; nobody may neither remove it nor replace it.
    await asRoot(['import', '-q', files[0]!], 0);
    const r = await asNobody(['clear', '--force', files[0]!], 1);
    assert.equal(r.stderr.trim(), `${files[0]}: failed: ${CAP_MESSAGE}`);
    assert.deepEqual(await xattrOf(files[0]!, 'security.ima'), sidecars[0]);
    const out = join(m.dir, 'staged');
    await mkdir(out);
    await chown(out, uid, gid);
    await asNobody(['export', '-r', '-q', '--xattr', 'user.ima', '--dest', out, dir], 0);
    for (const [i, f] of files.entries())
      assert.deepEqual(await readFile(join(out, `${f.slice(dir.length + 1)}.sig`)), sidecars[i]);
  });
});

test('as nobody on FAT (fusefat): import is still unsupported, exit 0', { timeout: 120_000 }, async (t) => {
  if (toolsMissing(t)) return;
  const { uid, gid } = nobodyIds();
  const fat = await useMount(t, 'fat', { mountOptions: [`uid=${uid}`, `gid=${gid}`] });
  if (!fat) return;
  const f = join(fat.dir, 'x.txt');
  await writeFile(f, 'on FAT\n');
  const sign = await run('evmctl', ['ima_sign', '-n', '--sigfile', '--key', KEY, '-a', 'sha256', f]);
  assert.equal(sign.status, 0, show(sign));
  const sidecar = await readFile(`${f}.sig`);
  const recs = records((await asNobody(['import', '--json', f], 0)).stdout);
  assert.equal(recs[0]!.status, 'unsupported', JSON.stringify(recs[0]));
  const strict = await asNobody(['import', '--require-xattr', '--xattr', 'user.ima', f], 1);
  assert.match(strict.stderr, /unsupported: filesystem fuse\.fusefat does not support extended attributes/);
  assert.deepEqual(await readFile(`${f}.sig`), sidecar);
});
