// Issue 4 on real filesystems: `ima-sidecar migrate` (the real command line) between FAT32 through
// fusefat and ext4 loop mounts, checked with independent tools (getfattr, evmctl 1.4, byte comparison,
// directory listings with dotfiles). Covers --verify, re-runs, --dry-run, --keep-sidecars, bad source
// signatures, a full destination (ENOSPC) and a run killed with SIGKILL part way, then run again.
//
// fusefat needs ~80 ms to create a file, so the trees that touch FAT are kept small; the large tree
// (the SIGKILL case) is ext4 to ext4, with --keep-sidecars so that both carriers are in play.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { BIN, fixture, run, show, type RunResult } from '../helpers/cli.js';
import { useMount } from '../helpers/mounts.js';
import { content, listAll, writeFiles } from '../helpers/trees.js';
import { cliExpecting, FAT_TIMEOUT, ONE_JOB, records, toolsMissing, xattrOf } from '../helpers/system.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const CERT_DER = fixture('keys/rsa2048.crt.der');
const OTHER_KEY = fixture('keys/other-rsa2048.key.pem');
const SIGN = ['--key', KEY, '--cert', CERT];
const VERIFY = ['--verify', '--cert', CERT];
const TEMP_NAME = /^\..+\.\d+\.[0-9a-f]{8}\.ima-sidecar-tmp$/;
const cli = (args: string[], status: number): Promise<RunResult> => cliExpecting(args, status, 90_000);

async function evmctlVerifies(path: string): Promise<boolean> {
  const r = await run('evmctl', ['ima_verify', '--key', CERT_DER, path]);
  return r.status === 0 && /verification is OK/.test(r.stdout + r.stderr);
}

function temporaries(names: readonly string[]): string[] {
  return names.filter((n) => TEMP_NAME.test(n.split('/').pop()!));
}

/** Directories (relative) that hold the given relative files, parents included. */
function dirsOf(rels: readonly string[]): string[] {
  const s = new Set<string>();
  for (const r of rels) for (let d = dirname(r); d !== '.'; d = dirname(d)) s.add(d);
  return [...s];
}

// -------------------------------------------------------------------------------------------------

test('FAT32 (fusefat) to ext4 with --verify, again, --dry-run and --keep-sidecars', FAT_TIMEOUT, async (t) => {
  if (toolsMissing(t)) return;
  const fat = await useMount(t, 'fat');
  if (!fat) return;
  const ext = await useMount(t, 'ext4');
  if (!ext) return;
  const src = join(fat.dir, 'src');
  const spec: Record<string, Buffer | string> = {
    'a.txt': 'a file on FAT\n',
    'with space.txt': 'spaces in the name\n',
    empty: '',
    'big.bin': content(1, 2 << 20),
    'docs/readme.txt': 'docs\n',
    'docs/deep/c.bin': content(2, 200_000),
    'evm.bin': content(3, 3000),
  };
  const rels = Object.keys(spec).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const files = await writeFiles(src, spec);
  await cli(['sign', ...ONE_JOB, '-q', ...SIGN, ...files.filter((f) => !f.endsWith('evm.bin'))], 0);
  const evm = await run('evmctl', ['ima_sign', '-n', '--sigfile', '--key', KEY, '-a', 'sha256', join(src, 'evm.bin')]);
  assert.equal(evm.status, 0, show(evm));
  const sidecar = new Map<string, Buffer>();
  for (const r of rels) sidecar.set(r, await readFile(join(src, `${r}.sig`)));
  const dst = join(ext.dir, 'dst');

  await t.test('every file is copied byte for byte, its sidecar becomes the xattr, evmctl accepts it', async () => {
    const { list, summary } = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', ...VERIFY, src, dst], 0));
    assert.deepEqual(
      list.map((x) => relative(src, String(x.path))),
      rels,
    );
    for (const x of list) {
      const rel = relative(src, String(x.path));
      const out = join(dst, rel);
      assert.equal(x.status, 'copied', JSON.stringify(x));
      assert.equal(x.carrier, 'xattr');
      assert.equal(x.from, 'sidecar');
      assert.equal(x.dest, out);
      assert.equal(x.filesystem, 'ext4');
      assert.deepEqual(await readFile(out), await readFile(join(src, rel)), rel);
      assert.deepEqual(await xattrOf(out), sidecar.get(rel), rel);
      assert.ok(await evmctlVerifies(out), `evmctl ima_verify ${out}`);
      assert.equal((await stat(out)).mtimeMs, (await stat(join(src, rel))).mtimeMs, `${rel}: mtime kept`);
    }
    assert.equal(summary['signed-into-xattr'], rels.length);
    assert.equal(summary.failed, 0);
    // The files and their directories, nothing else: no sidecars on ext4, no temporaries.
    assert.deepEqual(await listAll(dst), [...rels, ...dirsOf(rels)].sort());
  });

  await t.test('a second run changes nothing and exits 0', async () => {
    const before = new Map<string, { ino: number; mtimeMs: number; ctimeMs: number }>();
    for (const r of rels) {
      const s = await stat(join(dst, r));
      before.set(r, { ino: s.ino, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs });
    }
    const listing = await listAll(dst);
    const { list, summary } = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', ...VERIFY, src, dst], 0));
    assert.ok(
      list.every((x) => x.status === 'unchanged' && x.carrier === 'xattr'),
      JSON.stringify(list),
    );
    assert.equal(summary.unchanged, rels.length);
    for (const r of rels) {
      const s = await stat(join(dst, r));
      assert.deepEqual({ ino: s.ino, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs }, before.get(r), r);
      assert.deepEqual(await xattrOf(join(dst, r)), sidecar.get(r));
    }
    assert.deepEqual(await listAll(dst), listing);
  });

  await t.test('--dry-run writes nothing, into a new destination or an existing one', async () => {
    const rootBefore = await listAll(ext.dir);
    const fresh = join(ext.dir, 'dry');
    const { list } = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', '--dry-run', ...VERIFY, src, fresh], 0));
    assert.ok(
      list.every((x) => x.status === 'would-copy'),
      JSON.stringify(list),
    );
    assert.equal(existsSync(fresh), false);
    // An existing copy whose xattr went missing: the dry run says it would sign it, and does not.
    const victim = join(dst, 'docs/readme.txt');
    const rm = await run('setfattr', ['-x', 'security.ima', victim]);
    assert.equal(rm.status, 0, show(rm));
    const { by } = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', '--dry-run', ...VERIFY, src, dst], 0));
    assert.equal(by.get(join(src, 'docs/readme.txt'))!.status, 'would-sign');
    assert.equal(await xattrOf(victim), undefined);
    assert.deepEqual(await listAll(ext.dir), rootBefore);
    // The real run finishes it.
    const real = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', ...VERIFY, src, dst], 0)).by;
    assert.equal(real.get(join(src, 'docs/readme.txt'))!.status, 'signed');
    assert.deepEqual(await xattrOf(victim), sidecar.get('docs/readme.txt'));
  });

  await t.test('--keep-sidecars writes the xattr and a sidecar, both the source sidecar', async () => {
    const keep = join(ext.dir, 'keep');
    const { list } = records(
      await cli(['migrate', ...ONE_JOB, '-r', '--json', '--keep-sidecars', ...VERIFY, src, keep], 0),
    );
    assert.ok(
      list.every((x) => x.status === 'copied' && x.carrier === 'xattr'),
      JSON.stringify(list),
    );
    for (const r of rels) {
      assert.deepEqual(await xattrOf(join(keep, r)), sidecar.get(r), r);
      assert.deepEqual(await readFile(join(keep, `${r}.sig`)), sidecar.get(r), r);
    }
    assert.deepEqual(await listAll(keep), [...rels, ...rels.map((r) => `${r}.sig`), ...dirsOf(rels)].sort());
  });
});

// -------------------------------------------------------------------------------------------------

test('ext4 to FAT32 (fusefat): the xattrs become sidecars on FAT', FAT_TIMEOUT, async (t) => {
  if (toolsMissing(t)) return;
  const ext = await useMount(t, 'ext4');
  if (!ext) return;
  const fat = await useMount(t, 'fat');
  if (!fat) return;
  const src = join(ext.dir, 'src');
  const signed = ['one.txt', 'sub/two.bin', 'sub/three.bin'];
  const files = await writeFiles(src, {
    'one.txt': 'one\n',
    'sub/two.bin': content(5, 100_000),
    'sub/three.bin': content(6, 10),
    'unsigned.txt': 'nobody signed me\n',
  });
  await cli(['sign', '-q', '--to', 'xattr', ...SIGN, ...signed.map((r) => join(src, r))], 0);
  const xattr = new Map<string, Buffer>();
  for (const r of signed) xattr.set(r, (await xattrOf(join(src, r)))!);
  const dst = join(fat.dir, 'dst');

  await t.test('migrate copies the files and writes each xattr as a sidecar, byte for byte', async () => {
    const { by, summary } = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', src, dst], 0));
    for (const r of signed) {
      const x = by.get(join(src, r))!;
      assert.equal(x.status, 'copied', JSON.stringify(x));
      assert.equal(x.carrier, 'sidecar');
      assert.equal(x.from, 'xattr');
      assert.equal(x.filesystem, 'fuse.fusefat');
      assert.deepEqual(await readFile(join(dst, `${r}.sig`)), xattr.get(r), r);
    }
    assert.equal(by.get(join(src, 'unsigned.txt'))!.carrier, 'none');
    for (const f of files) assert.deepEqual(await readFile(join(dst, relative(src, f))), await readFile(f));
    assert.equal(summary['signed-into-sidecar'], signed.length);
    assert.equal(summary.unsigned, 1);
    const names = await listAll(dst);
    assert.deepEqual(names, [
      'one.txt',
      'one.txt.sig',
      'sub',
      'sub/three.bin',
      'sub/three.bin.sig',
      'sub/two.bin',
      'sub/two.bin.sig',
      'unsigned.txt',
    ]);
  });

  await t.test('the sidecars on FAT verify, and a second run is all unchanged', async () => {
    const v = records(
      await cli(['verify', ...ONE_JOB, '--json', '--cert', CERT, ...signed.map((r) => join(dst, r))], 0),
    );
    assert.ok(v.list.every((x) => x.status === 'ok'));
    const { list } = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', src, dst], 0));
    assert.ok(
      list.every((x) => x.status === 'unchanged'),
      JSON.stringify(list),
    );
  });

  await t.test(
    'a different signature in a sidecar on FAT is a conflict; a digest there is upgraded; --force replaces',
    async () => {
      // Found by this test: the rerun replaced another signer's sidecar without --force (the xattr path refused).
      const one = join(dst, 'one.txt');
      const three = join(dst, 'sub/three.bin');
      // fusefat ignores O_TRUNC (a shorter write leaves the old tail), so the old sidecars are removed first.
      await rm(`${one}.sig`);
      await rm(`${three}.sig`);
      const other = await run('evmctl', ['ima_sign', '-n', '--sigfile', '--key', OTHER_KEY, '-a', 'sha256', one]);
      assert.equal(other.status, 0, show(other));
      const otherSig = await readFile(`${one}.sig`);
      const digest = Buffer.concat([
        Buffer.from([0x04, 0x04]),
        createHash('sha256')
          .update(await readFile(three))
          .digest(),
      ]);
      await writeFile(`${three}.sig`, digest);
      const { by } = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', src, dst], 1));
      const x = by.get(join(src, 'one.txt'))!;
      assert.equal(x.status, 'conflict');
      assert.match(String(x.reason), /destination sidecar .*one\.txt\.sig holds a different signature; use --force/);
      assert.deepEqual(await readFile(`${one}.sig`), otherSig);
      assert.equal(by.get(join(src, 'sub/three.bin'))!.status, 'signed');
      assert.deepEqual(await readFile(`${three}.sig`), xattr.get('sub/three.bin'));
      const forced = records(await cli(['migrate', ...ONE_JOB, '-r', '--json', '--force', src, dst], 0)).by;
      assert.equal(forced.get(join(src, 'one.txt'))!.status, 'signed');
      assert.deepEqual(await readFile(`${one}.sig`), xattr.get('one.txt'));
    },
  );

  await t.test('names that differ only in case are a conflict on FAT, never a silent overwrite', async () => {
    // Found by this test: with several jobs both files were "copied" and the second replaced the first.
    const cased = await writeFiles(join(ext.dir, 'case'), { 'Name.txt': 'upper case\n', 'name.txt': 'lower case\n' });
    for (const c of cased) {
      const r = await run('evmctl', ['ima_sign', '--key', KEY, '-a', 'sha256', c]);
      assert.equal(r.status, 0, show(r));
    }
    const out = join(fat.dir, 'case');
    const { list } = records(await cli(['migrate', '-r', '--json', '-j', '8', join(ext.dir, 'case'), out], 1));
    assert.deepEqual(
      list.map((x) => [x.path, x.status]),
      [
        [cased[0], 'copied'],
        [cased[1], 'conflict'],
      ],
    );
    assert.match(String(list[1]!.reason), /exists with different content/);
    assert.deepEqual((await readdir(out)).sort(), ['Name.txt', 'Name.txt.sig']);
    assert.deepEqual(await readFile(join(out, 'Name.txt')), await readFile(cased[0]!));
    assert.deepEqual(await readFile(join(out, 'Name.txt.sig')), await xattrOf(cased[0]!));
  });
});

// -------------------------------------------------------------------------------------------------

test('a bad signature in the source: that file is not copied, the good one beside it is, exit 1', async (t) => {
  if (toolsMissing(t)) return;
  const ext = await useMount(t, 'ext4');
  if (!ext) return;
  const src = join(ext.dir, 'src');
  const dst = join(ext.dir, 'dst');
  await writeFiles(src, {
    'bad-digest.txt': 'a digest sidecar, then the content changed\n',
    'bad-sig.txt': 'a signature with one byte flipped\n',
    'good.txt': 'the good one\n',
    'wrong-file.txt': 'carries the signature of good.txt\n',
  });
  await cli(['sign', '-q', ...SIGN, join(src, 'good.txt'), join(src, 'bad-sig.txt')], 0);
  const sig = await readFile(join(src, 'bad-sig.txt.sig'));
  sig[sig.length - 7] = sig[sig.length - 7]! ^ 0x40;
  await writeFile(join(src, 'bad-sig.txt.sig'), sig);
  await copyFile(join(src, 'good.txt.sig'), join(src, 'wrong-file.txt.sig'));
  await cli(['hash', '-q', '--to', 'sidecar', join(src, 'bad-digest.txt')], 0);
  await writeFile(join(src, 'bad-digest.txt'), 'changed after hashing\n');

  await t.test('with --verify only the good file arrives', async () => {
    const { by, summary } = records(await cli(['migrate', '-r', '--json', ...VERIFY, src, dst], 1));
    assert.equal(by.get(join(src, 'good.txt'))!.status, 'copied');
    for (const [n, why] of [
      ['bad-sig.txt', /bad signature|does not verify/],
      ['wrong-file.txt', /digest mismatch|bad signature/],
      ['bad-digest.txt', /digest mismatch/],
    ] as const) {
      const x = by.get(join(src, n))!;
      assert.equal(x.status, 'failed', JSON.stringify(x));
      assert.match(String(x.reason), why);
      assert.match(String(x.reason), /not copied/);
    }
    assert.equal(summary.failed, 3);
    assert.deepEqual(await listAll(dst), ['good.txt']);
    assert.ok(await evmctlVerifies(join(dst, 'good.txt')));
  });

  await t.test('a digest that does not match is refused even without --verify', async () => {
    const r = await cli(['migrate', join(src, 'bad-digest.txt'), `${dst}/`], 1);
    assert.match(r.stderr, /bad-digest\.txt: failed: digest mismatch/);
    assert.deepEqual(await listAll(dst), ['good.txt']);
  });
});

// -------------------------------------------------------------------------------------------------

test('a destination too small for a file: ENOSPC, and no partial or temporary file left', async (t) => {
  if (toolsMissing(t)) return;
  const big = await useMount(t, 'ext4');
  if (!big) return;
  const small = await useMount(t, 'ext4', { sizeMiB: 8 });
  if (!small) return;
  const src = join(big.dir, 'src');
  await writeFiles(src, { 'huge.bin': content(7, 20 << 20), 'small.txt': 'fits\n' });
  await cli(['sign', '-q', '-r', ...SIGN, src], 0);
  const dst = join(small.dir, 'dst');
  const free = async (): Promise<number> => {
    const s = await statfs(small.dir);
    return s.bavail * s.bsize;
  };
  const freeBefore = await free();
  assert.ok(freeBefore < 20 << 20, `the small filesystem has ${freeBefore} bytes free`);

  await t.test('a tree: the file that does not fit fails with a clear reason, the other is copied', async () => {
    const { by, summary } = records(await cli(['migrate', '-r', '--json', src, dst], 1));
    const x = by.get(join(src, 'huge.bin'))!;
    assert.equal(x.status, 'failed');
    assert.match(String(x.reason), /no space left on device \(ENOSPC\)/);
    assert.equal(by.get(join(src, 'small.txt'))!.status, 'copied');
    assert.equal(summary.failed, 1);
    assert.deepEqual(await listAll(dst), ['small.txt']);
    assert.deepEqual(temporaries(await listAll(small.dir)), []);
    // The partial copy's blocks were given back.
    assert.ok((await free()) > freeBefore - (1 << 20), `free ${await free()} of ${freeBefore}`);
  });

  await t.test('a single file onto a named destination: the same', async () => {
    const r = await cli(['migrate', join(src, 'huge.bin'), join(small.dir, 'huge.bin')], 1);
    assert.match(r.stderr, /huge\.bin: failed: .*no space left on device \(ENOSPC\)/);
    assert.deepEqual(temporaries(await listAll(small.dir)), []);
    assert.equal(existsSync(join(small.dir, 'huge.bin')), false);
  });
});

// -------------------------------------------------------------------------------------------------

test('a migration of a few hundred files killed with SIGKILL part way, then run again', async (t) => {
  if (toolsMissing(t)) return;
  const ext = await useMount(t, 'ext4', { sizeMiB: 96 });
  if (!ext) return;
  const src = join(ext.dir, 'src');
  const dst = join(ext.dir, 'dst');
  const spec: Record<string, Buffer> = {};
  for (let d = 0; d < 3; d++)
    for (let i = 0; i < 100; i++)
      spec[`d${d}/f${String(i).padStart(3, '0')}.bin`] = content(1000 + d * 100 + i, 8192 + ((i * 977) % 24576));
  const rels = Object.keys(spec).sort();
  await writeFiles(src, spec);
  await cli(['sign', '-q', '-r', '-j', '4', '--to', 'xattr', ...SIGN, src], 0);

  const completeFiles = async (): Promise<number> => {
    let n = 0;
    for (let d = 0; d < 3; d++) {
      try {
        n += (await readdir(join(dst, `d${d}`))).filter((x) => x.endsWith('.bin')).length;
      } catch {
        /* not created yet */
      }
    }
    return n;
  };

  await t.test('the first run is killed with some files in place', async () => {
    const child = spawn(process.execPath, [BIN, 'migrate', '-r', '-q', '-j', '4', '--keep-sidecars', src, dst], {
      stdio: 'ignore',
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('exit', (code, signal) => r({ code, signal })),
    );
    let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void exited.then((x) => (done = x));
    const deadline = Date.now() + 60_000;
    while (!done && (await completeFiles()) < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    const end = await exited;
    assert.equal(end.signal, 'SIGKILL', `the run ended by itself (${JSON.stringify(end)}) before it could be killed`);
    const names = await listAll(dst);
    const copied = names.filter((n) => n.endsWith('.bin')).length;
    const sidecars = names.filter((n) => n.endsWith('.sig')).length;
    t.diagnostic(
      `killed with ${copied} files, ${sidecars} sidecars and ${temporaries(names).length} temporaries in place`,
    );
    assert.ok(copied >= 30 && copied < rels.length, `${copied} files copied when killed`);
  });

  await t.test(
    'the second run finishes: every file complete and signed in both carriers, nothing temporary left',
    async () => {
      const { list, summary } = records(
        await cli(['migrate', '-r', '--json', '-j', '4', '--keep-sidecars', src, dst], 0),
      );
      assert.equal(list.length, rels.length);
      for (const x of list) assert.ok(['copied', 'unchanged', 'signed'].includes(String(x.status)), JSON.stringify(x));
      t.diagnostic(`second run: ${JSON.stringify(summary)}`);
      const names = await listAll(dst);
      assert.deepEqual(temporaries(names), []);
      assert.deepEqual(names, [...rels, ...rels.map((r) => `${r}.sig`), 'd0', 'd1', 'd2'].sort());
      for (const r of rels) assert.deepEqual(await readFile(join(dst, r)), spec[r], r);
      const v = records(await cli(['verify', '-r', '--json', '--cert', CERT, dst], 0));
      assert.equal(v.list.length, rels.length);
      for (const x of v.list) {
        assert.equal(x.status, 'ok');
        assert.deepEqual(
          (x.carriers as { carrier: string; status: string }[]).map((c) => `${c.carrier}:${c.status}`),
          ['sidecar:ok', 'xattr:ok'],
          String(x.path),
        );
      }
      for (const r of rels.filter((_, i) => i % 30 === 0)) assert.ok(await evmctlVerifies(join(dst, r)), r);
    },
  );
});
