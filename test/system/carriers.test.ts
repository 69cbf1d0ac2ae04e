// Issue 3 on real filesystems: import, export, status and clear run as the real command line
// (bin/ima-sidecar) against FAT32 through fusefat and ext4, xfs and btrfs on loop devices, checked with
// independent tools: getfattr for the xattr bytes, evmctl 1.4 for verification and as the reference
// writer (ima_sign --sigfile, ima_hash, ima_setxattr).
//
// Each filesystem is mounted once per top-level test and shared by its subtests, which run in order and
// build on each other (import, then re-import, then conflicts, ...). useMount unmounts it when the
// top-level test ends, however it ends. The unprivileged cases are in unprivileged.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { BIN, fixture, run, show, type RunResult } from '../helpers/cli.js';
import { useMount, type FsKind } from '../helpers/mounts.js';
import { missing, skipOrFail } from '../helpers/skip.js';
import { content, listAll, writeFiles } from '../helpers/trees.js';
import { cliExpecting, FAT_TIMEOUT, ONE_JOB, records, toolsMissing, xattrOf } from '../helpers/system.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const CERT_DER = fixture('keys/rsa2048.crt.der');
const OTHER_KEY = fixture('keys/other-rsa2048.key.pem');
const SIGN = ['--key', KEY, '--cert', CERT];
const TEMP_NAME = /\.ima-sidecar-tmp$/;
const cli = (args: string[], status: number): Promise<RunResult> => cliExpecting(args, status, 60_000);

async function setXattr(path: string, value: Buffer): Promise<void> {
  const r = await run('setfattr', ['-n', 'security.ima', '-v', `0x${value.toString('hex')}`, '--', path]);
  assert.equal(r.status, 0, show(r));
}

async function evmctl(args: string[], status = 0): Promise<RunResult> {
  const r = await run('evmctl', args);
  assert.equal(r.status, status, `evmctl ${args.join(' ')}\n${show(r)}`);
  return r;
}

/** evmctl's own verification of security.ima with the DER certificate. */
async function evmctlVerifies(path: string): Promise<boolean> {
  const r = await run('evmctl', ['ima_verify', '--key', CERT_DER, path]);
  return r.status === 0 && /verification is OK/.test(r.stdout + r.stderr);
}

/** Sorted by bytes, as the walk orders names. */
function byteSorted(list: readonly string[]): string[] {
  return [...list].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
}

async function readSidecars(paths: readonly string[]): Promise<Map<string, Buffer>> {
  const m = new Map<string, Buffer>();
  for (const p of paths) m.set(p, await readFile(`${p}.sig`));
  return m;
}

// -------------------------------------------------------------------------------------------------

test(
  'FAT32 through fusefat: import reports every file unsupported and leaves the sidecars alone',
  FAT_TIMEOUT,
  async (t) => {
    if (toolsMissing(t)) return;
    const fat = await useMount(t, 'fat');
    if (!fat) return;
    const root = join(fat.dir, 'tree');
    const files = await writeFiles(root, {
      'a.txt': 'first file on FAT\n',
      'sub/b.bin': content(1, 5000),
      'sub/deeper/c.bin': content(2, 70_000),
      empty: '',
    });
    // Sidecars from both producers: ours for three, evmctl for one.
    await cli(['sign', ...ONE_JOB, '-q', ...SIGN, ...files.slice(0, 3)], 0);
    await evmctl(['ima_sign', '-n', '--sigfile', '--key', KEY, '-a', 'sha256', files[3]!]);
    const before = await readSidecars(files);
    const listing = await listAll(root);

    await t.test('import -r exits 0 and reports each file unsupported', async () => {
      const { list, summary } = records(await cli(['import', ...ONE_JOB, '-r', '--json', root], 0));
      assert.deepEqual(
        list.map((x) => x.path),
        byteSorted(files),
      );
      for (const x of list) {
        assert.equal(x.status, 'unsupported', JSON.stringify(x));
        assert.equal(x.filesystem, 'fuse.fusefat');
        assert.match(String(x.reason), /does not support extended attributes; sidecar kept/);
        assert.equal(x.value, before.get(String(x.path))!.toString('hex'));
      }
      assert.equal(summary.unsupported, files.length);
      assert.equal(summary.failed, 0);
    });

    await t.test('the sidecars are byte-identical afterwards and nothing was added', async () => {
      assert.deepEqual(await readSidecars(files), before);
      assert.deepEqual(await listAll(root), listing);
    });

    await t.test(
      '--require-xattr turns unsupported into exit 1, still writing nothing (--remove-sidecar removes nothing)',
      async () => {
        const { list, summary } = records(
          await cli(['import', ...ONE_JOB, '-r', '--require-xattr', '--remove-sidecar', '--json', root], 1),
        );
        assert.ok(list.every((x) => x.status === 'unsupported'));
        assert.equal(summary.failed, files.length);
        assert.deepEqual(await readSidecars(files), before);
        assert.deepEqual(await listAll(root), listing);
      },
    );

    await t.test('status shows sidecar-only files on a filesystem without xattrs', async () => {
      await writeFile(join(root, 'unsigned.txt'), 'no signature\n');
      await writeFile(join(root, 'gone.txt.sig'), before.get(files[0]!)!);
      const { by, summary } = records(await cli(['status', ...ONE_JOB, '-r', '--json', root], 0));
      for (const f of files) {
        const x = by.get(f)!;
        assert.equal(x.status, 'sidecar-only');
        assert.equal(x.xattrs, false);
        assert.equal(x.filesystem, 'fuse.fusefat');
        assert.equal(x.sidecar, before.get(f)!.toString('hex'));
      }
      assert.equal(by.get(join(root, 'unsigned.txt'))!.status, 'unsigned');
      assert.equal(by.get(join(root, 'gone.txt'))!.status, 'orphan');
      assert.equal(summary.total, files.length + 2);
    });

    await t.test('a sidecar left without its file does not fail import -r: reported as an orphan, exit 0', async () => {
      const { by, summary } = records(await cli(['import', ...ONE_JOB, '-r', '--json', root], 0));
      assert.equal(by.get(join(root, 'gone.txt'))!.status, 'orphan');
      assert.equal(summary.orphan, 1);
      assert.equal(summary.failed, 0);
    });

    await t.test('sign --to both writes the sidecar and says the xattr part is unsupported: exit 0', async () => {
      const both = join(root, 'both.txt');
      await writeFile(both, 'signed into both on FAT\n');
      const { list } = records(await cli(['sign', '--json', ...SIGN, '--to', 'both', both], 0));
      assert.equal(list[0]!.status, 'signed');
      assert.equal(list[0]!.xattr, 'unsupported');
      assert.deepEqual(list[0]!.carriers, ['sidecar']);
      assert.match(
        String(list[0]!.reason),
        /security\.ima not written: .*does not support extended attributes; sidecar written/,
      );
      assert.equal((await readFile(`${both}.sig`)).toString('hex'), list[0]!.value);
      const required = records(await cli(['sign', '--json', ...SIGN, '--to', 'both', '--require-xattr', both], 1));
      assert.equal(required.list[0]!.status, 'replaced');
      assert.equal(required.summary.failed, 1);
      await rm(`${both}.sig`);
      await rm(both);
    });
  },
);

// -------------------------------------------------------------------------------------------------

// ext4, xfs and btrfs are mounted side by side and every command runs once over the three trees, so
// each step proves all three filesystems for the price of one run of the command line.
const KINDS = ['ext4', 'xfs', 'btrfs'] as const satisfies readonly FsKind[];

test(
  'ext4, xfs and btrfs: import, re-import, conflicts, digests, --remove-sidecar, export (also onto FAT) and clear',
  FAT_TIMEOUT,
  async (t) => {
    if (toolsMissing(t)) return;
    const mounts = new Map<string, string>();
    for (const kind of KINDS) {
      const m = await useMount(t, kind);
      if (!m) return;
      mounts.set(kind, m.dir);
    }
    const fat = await useMount(t, 'fat');
    if (!fat) return;
    const rel = {
      evmOne: 'evm/one.bin',
      evmTwo: 'evm/two.txt',
      a: 'ours/a.txt',
      b: 'ours/sub/b.txt',
      empty: 'ours/empty',
      big: 'ours/big.bin',
      digestOurs: 'digest/ours.txt',
      digestEvm: 'digest/evm.txt',
    };
    const roots: string[] = [];
    const conflicts: string[] = [];
    const all: string[] = []; // every file, in the order the three roots are listed
    const kindOf = new Map<string, string>();
    const P = (root: string, k: keyof typeof rel): string => join(root, rel[k]);
    for (const [kind, dir] of mounts) {
      const root = join(dir, 'tree');
      roots.push(root);
      const files = await writeFiles(root, {
        [rel.evmOne]: content(10, 4096),
        [rel.evmTwo]: `evmctl signs this on ${kind}\n`,
        [rel.a]: 'a\n',
        [rel.b]: `b on ${kind}\n`,
        [rel.empty]: '',
        [rel.big]: content(11, 1 << 20),
        [rel.digestOurs]: 'holds an ima-sidecar digest first\n',
        [rel.digestEvm]: 'holds an evmctl digest first\n',
      });
      all.push(...byteSorted(files));
      for (const f of files) kindOf.set(f, kind);
      conflicts.push(...(await writeFiles(dir, { 'edge/conflict.txt': `two signers disagree on ${kind}\n` })));
    }
    const ours = roots.flatMap((r) => [P(r, 'a'), P(r, 'b'), P(r, 'empty'), P(r, 'big'), P(r, 'digestOurs')]);
    const digestOurs = roots.map((r) => P(r, 'digestOurs'));
    const digestEvm = roots.map((r) => P(r, 'digestEvm'));

    // Sidecars: evmctl ima_sign --sigfile for three files per tree, ima-sidecar sign for the rest.
    for (const r of roots)
      for (const k of ['evmOne', 'evmTwo', 'digestEvm'] as const)
        await evmctl(['ima_sign', '-n', '--sigfile', '--key', KEY, '-a', 'sha256', P(r, k)]);
    await cli(['sign', '-q', ...SIGN, ...ours, ...conflicts], 0);
    // Digests already in the xattr: from ima-sidecar hash --to xattr, and from evmctl ima_hash.
    await cli(['hash', '-q', '--to', 'xattr', ...digestOurs], 0);
    for (const p of digestEvm) await evmctl(['ima_hash', '-a', 'sha256', p]);
    const oldDigest = new Map<string, Buffer>();
    for (const p of [...digestOurs, ...digestEvm]) {
      const v = await xattrOf(p);
      assert.ok(
        v && v[0] === 0x04 && v[1] === 4 && v.length === 34,
        `${p} should hold a 0x04 sha256 digest, holds ${v?.toString('hex')}`,
      );
      oldDigest.set(p, v);
    }
    assert.deepEqual(oldDigest.get(digestOurs[0]!), oldDigest.get(digestOurs[1]!), 'same content, same digest value');
    // A different signature (another key, by evmctl straight into the xattr) on each conflict.txt.
    const otherSig = new Map<string, Buffer>();
    for (const c of conflicts) {
      await evmctl(['ima_sign', '--key', OTHER_KEY, '-a', 'sha256', c]);
      otherSig.set(c, (await xattrOf(c))!);
      assert.notDeepEqual(otherSig.get(c), await readFile(`${c}.sig`));
    }
    const sidecars = await readSidecars(all);
    // Two names that differ only in case, signed straight into the xattr by evmctl: one name on FAT.
    const caseDir = join(mounts.get('ext4')!, 'case');
    const cased = await writeFiles(caseDir, { 'Name.txt': 'upper case\n', 'name.txt': 'lower case\n' });
    for (const c of cased) await evmctl(['ima_sign', '--key', KEY, '-a', 'sha256', c]);

    await t.test(
      'import -r writes xattrs byte-identical to the sidecars; digests are replaced, the old value recorded',
      async () => {
        const { list, summary } = records(await cli(['import', '-r', '--json', ...roots], 0));
        assert.deepEqual(
          list.map((x) => x.path),
          all,
        );
        for (const x of list) {
          const p = String(x.path);
          assert.equal(x.status, 'imported', JSON.stringify(x));
          assert.equal(x.filesystem, kindOf.get(p));
          assert.equal(x.value, sidecars.get(p)!.toString('hex'));
          const old = oldDigest.get(p);
          if (old) assert.equal(x.replaced, old.toString('hex'), `${p}: the replaced digest is in the record`);
          else assert.equal(x.replaced, undefined);
          assert.deepEqual(await xattrOf(p), sidecars.get(p), p);
        }
        assert.equal(summary.imported, all.length);
      },
    );

    await t.test('evmctl ima_verify accepts every imported xattr', async () => {
      for (const p of all) assert.ok(await evmctlVerifies(p), `evmctl ima_verify ${p}`);
    });

    await t.test('a second import is all unchanged', async () => {
      const { list, summary } = records(await cli(['import', '-r', '--json', ...roots], 0));
      assert.deepEqual(
        list.map((x) => [x.path, x.status]),
        all.map((p) => [p, 'unchanged']),
      );
      assert.equal(summary.unchanged, all.length);
    });

    await t.test('the xattrs are exactly what evmctl ima_setxattr writes from the same sidecars', async () => {
      for (const dir of mounts.values()) await mkdir(join(dir, 'twins'));
      for (const [i, p] of all.entries()) {
        const twin = join(mounts.get(kindOf.get(p)!)!, 'twins', `f${i}`);
        await copyFile(p, twin);
        await copyFile(`${p}.sig`, `${twin}.sig`);
        await evmctl(['ima_setxattr', twin]);
        assert.deepEqual(await xattrOf(twin), await xattrOf(p), p);
      }
      for (const dir of mounts.values()) await rm(join(dir, 'twins'), { recursive: true });
    });

    await t.test(
      'a different signature in the xattr is a conflict; --force replaces it and records the old one',
      async () => {
        const { list } = records(await cli(['import', '--json', ...conflicts], 1));
        assert.deepEqual(
          list.map((x) => x.path),
          conflicts,
        );
        for (const x of list) {
          const c = String(x.path);
          assert.equal(x.status, 'conflict');
          assert.match(String(x.reason), /holds a different signature; use --force/);
          assert.equal(x.current, otherSig.get(c)!.toString('hex'));
          assert.deepEqual(await xattrOf(c), otherSig.get(c), 'untouched without --force');
        }
        const forced = records(await cli(['import', '--force', '--json', ...conflicts], 0)).list;
        for (const y of forced) {
          const c = String(y.path);
          assert.equal(y.status, 'imported');
          assert.equal(y.replaced, otherSig.get(c)!.toString('hex'));
          assert.deepEqual(await xattrOf(c), await readFile(`${c}.sig`));
          assert.ok(await evmctlVerifies(c));
        }
      },
    );

    await t.test('--remove-sidecar removes each sidecar once the xattr holds it', async () => {
      const { list } = records(await cli(['import', '-r', '--remove-sidecar', '--json', ...roots], 0));
      assert.equal(list.length, all.length);
      for (const x of list) {
        assert.equal(x.status, 'unchanged');
        assert.equal(x.sidecarRemoved, true);
        assert.equal(existsSync(`${String(x.path)}.sig`), false);
        assert.deepEqual(await xattrOf(String(x.path)), sidecars.get(String(x.path)));
      }
    });

    await t.test('clear refuses to drop a signature no sidecar backs up', async () => {
      const { list, summary } = records(await cli(['clear', '-r', '--json', ...roots], 1));
      assert.equal(list.length, all.length);
      for (const x of list) {
        assert.equal(x.status, 'refused', JSON.stringify(x));
        assert.match(String(x.reason), /no identical sidecar/);
        assert.deepEqual(await xattrOf(String(x.path)), sidecars.get(String(x.path)));
      }
      assert.equal(summary.failed, all.length);
    });

    await t.test('export --dest onto FAT gives sidecars byte-identical to the originals', async () => {
      for (const [kind, dir] of mounts) {
        const root = join(dir, 'tree');
        const dest = join(fat.dir, `from-${kind}`);
        const mine = all.filter((p) => p.startsWith(`${root}/`));
        const { list } = records(await cli(['export', ...ONE_JOB, '-r', '--json', '--dest', dest, root], 0));
        assert.deepEqual(
          list.map((x) => [x.path, x.status]),
          mine.map((p) => [p, 'exported']),
        );
        for (const p of mine)
          assert.deepEqual(await readFile(join(dest, `${relative(root, p)}.sig`)), sidecars.get(p), p);
        // Only the sidecars (and their directories) on FAT: no temporaries, no content.
        const names = await listAll(dest);
        assert.deepEqual(
          names.filter((n) => n.endsWith('.sig')),
          mine.map((p) => `${relative(root, p)}.sig`).sort(),
        );
        assert.ok(!names.some((n) => TEMP_NAME.test(n)), names.join('\n'));
      }
    });

    await t.test(
      'export --dest onto FAT: names that differ only in case are a conflict, never a silent overwrite',
      async () => {
        // Found by this test: with several jobs both sidecars were written and the second replaced the first.
        const dest = join(fat.dir, 'case');
        const { list } = records(await cli(['export', '-r', '--json', '-j', '8', '--dest', dest, caseDir], 1));
        assert.deepEqual(
          list.map((x) => [x.path, x.status]),
          [
            [cased[0], 'exported'],
            [cased[1], 'conflict'],
          ],
        );
        assert.match(String(list[1]!.reason), /holds a different value; use --force/);
        assert.deepEqual(await readdir(dest), ['Name.txt.sig']);
        assert.deepEqual(await readFile(join(dest, 'Name.txt.sig')), await xattrOf(cased[0]!));
      },
    );

    await t.test('export beside the files restores the original sidecars byte for byte', async () => {
      const { list } = records(await cli(['export', '-r', '--json', ...roots], 0));
      assert.ok(
        list.every((x) => x.status === 'exported'),
        JSON.stringify(list),
      );
      assert.deepEqual(await readSidecars(all), sidecars);
      for (const r of roots) assert.ok(!(await listAll(r)).some((n) => TEMP_NAME.test(n)));
    });

    await t.test('with the sidecars back, clear removes the xattrs', async () => {
      const { list } = records(await cli(['clear', '-r', '--json', ...roots], 0));
      assert.ok(
        list.every((x) => x.status === 'cleared'),
        JSON.stringify(list),
      );
      for (const p of all) assert.equal(await xattrOf(p), undefined, p);
      assert.deepEqual(await readSidecars(all), sidecars);
    });
  },
);
// -------------------------------------------------------------------------------------------------

test('status on ext4: every state, with --json and as a table', async (t) => {
  if (toolsMissing(t)) return;
  const m = await useMount(t, 'ext4');
  if (!m) return;
  const dir = join(m.dir, 'states');
  const f = (n: string): string => join(dir, n);
  await writeFiles(
    dir,
    Object.fromEntries(
      [
        'in-sync.txt',
        'sidecar-only.txt',
        'xattr-only.txt',
        'mismatch.txt',
        'unsigned.txt',
        'invalid.txt',
        'invalid-xattr.txt',
      ].map((n) => [n, `${n}\n`]),
    ),
  );
  await cli(['sign', '-q', ...SIGN, '--to', 'both', f('in-sync.txt'), f('mismatch.txt')], 0);
  await evmctl(['ima_sign', '-n', '--sigfile', '--key', KEY, '-a', 'sha256', f('sidecar-only.txt')]);
  await evmctl(['ima_sign', '--key', KEY, '-a', 'sha256', f('xattr-only.txt')]);
  await evmctl(['ima_sign', '-n', '--sigfile', '--key', OTHER_KEY, '-a', 'sha256', f('mismatch.txt')]);
  await copyFile(f('sidecar-only.txt.sig'), f('orphan.txt.sig'));
  await writeFile(f('invalid.txt.sig'), Buffer.from('030204', 'hex'));
  await setXattr(f('invalid-xattr.txt'), Buffer.from('0302', 'hex'));

  const expected: [string, string][] = [
    ['in-sync.txt', 'in-sync'],
    ['invalid-xattr.txt', 'invalid'],
    ['invalid.txt', 'invalid'],
    ['mismatch.txt', 'mismatch'],
    ['orphan.txt', 'orphan'],
    ['sidecar-only.txt', 'sidecar-only'],
    ['unsigned.txt', 'unsigned'],
    ['xattr-only.txt', 'xattr-only'],
  ];

  await t.test('--json: one record per file in name order, the state and the carriers in each', async () => {
    const { list, summary } = records(await cli(['status', '-r', '--json', dir], 1));
    assert.deepEqual(
      list.map((x) => [relative(dir, String(x.path)), x.status]),
      expected,
    );
    for (const x of list) {
      if (x.status === 'orphan') {
        assert.equal(x.sidecar, f('orphan.txt.sig'));
        continue;
      }
      assert.equal(x.state, x.status);
      assert.equal(x.filesystem, 'ext4');
      assert.equal(x.xattrs, true);
    }
    const by = new Map(list.map((x) => [relative(dir, String(x.path)), x]));
    const inSync = by.get('in-sync.txt')!;
    assert.equal(inSync.sidecar, inSync.xattr);
    assert.equal(inSync.keyid, '308baedd');
    assert.notEqual(by.get('mismatch.txt')!.sidecar, by.get('mismatch.txt')!.xattr);
    assert.equal(by.get('xattr-only.txt')!.sidecar, undefined);
    assert.equal(by.get('sidecar-only.txt')!.xattr, undefined);
    assert.match(String(by.get('invalid.txt')!.reason), /^sidecar: /);
    assert.match(String(by.get('invalid-xattr.txt')!.reason), /^security\.ima: /);
    // Only the invalid ones count as failures; an orphan is information for status.
    assert.equal(summary.failed, 2);
    assert.equal(summary.total, expected.length);
  });

  await t.test('--cert verifies every carrier', async () => {
    const { by } = records(
      await cli(['status', '--json', '--cert', CERT, f('in-sync.txt'), f('mismatch.txt'), f('xattr-only.txt')], 1),
    );
    assert.deepEqual(by.get(f('in-sync.txt'))!.verified, { sidecar: 'ok', xattr: 'ok' });
    assert.deepEqual(by.get(f('xattr-only.txt'))!.verified, { xattr: 'ok' });
    const mm = by.get(f('mismatch.txt'))!.verified as Record<string, string>;
    assert.equal(mm.xattr, 'ok');
    assert.match(mm.sidecar!, /unknown keyid/);
  });

  await t.test('the table has a row per file with its state first', async () => {
    const r = await cli(['status', '-r', dir], 1);
    const lines = r.stdout.split('\n').filter((l) => l && !l.startsWith(' '));
    assert.match(lines[0]!, /^STATE\s+FS\s+XATTRS\s.*\sPATH$/);
    assert.deepEqual(
      lines.slice(1).map((l) => [l.split(/\s+/)[0], l.slice(l.lastIndexOf(' ') + 1)]),
      expected.map(([n, s]) => [s, f(n)]),
    );
  });
});

// -------------------------------------------------------------------------------------------------

test(
  'selection on ext4: --include, --exclude and --one-file-system ' + 'with a second filesystem mounted inside the tree',
  async (t) => {
    if (toolsMissing(t)) return;
    const why = missing({ commands: ['mount', 'umount'] });
    if (why) return skipOrFail(t, why);
    const outer = await useMount(t, 'ext4');
    if (!outer) return;
    const inner = await useMount(t, 'xfs');
    if (!inner) return;
    const root = join(outer.dir, 'sel');
    const files = await writeFiles(root, {
      'keep.bin': 'k\n',
      'keep.txt': 'k\n',
      'skip/x.bin': 'x\n',
      'sub/y.bin': 'y\n',
      'sub/z.txt': 'z\n',
    });
    await writeFiles(inner.dir, { 'w.bin': 'on the inner filesystem\n' });
    const point = join(root, 'inner');
    await mkdir(point);
    // A bind mount of the xfs inside the ext4 tree; undone in finally, before useMount unmounts the xfs.
    const bind = spawnSync('mount', ['--bind', inner.dir, point], { encoding: 'utf8' });
    assert.equal(bind.status, 0, bind.stderr);
    try {
      const w = join(point, 'w.bin');
      await cli(['sign', '-q', '-r', ...SIGN, root], 0);
      const paths = async (extra: string[]): Promise<string[]> =>
        records(await cli(['status', '-r', '--json', ...extra, root], 0)).list.map((x) =>
          relative(root, String(x.path)),
        );

      await t.test('a plain walk crosses into the inner filesystem', async () => {
        const { list } = records(await cli(['status', '-r', '--json', root], 0));
        assert.deepEqual(
          list.map((x) => relative(root, String(x.path))),
          ['inner/w.bin', 'keep.bin', 'keep.txt', 'skip/x.bin', 'sub/y.bin', 'sub/z.txt'],
        );
        assert.deepEqual(
          list.map((x) => x.filesystem),
          ['xfs', 'ext4', 'ext4', 'ext4', 'ext4', 'ext4'],
        );
      });
      await t.test('--one-file-system stays out of it', async () => {
        assert.deepEqual(await paths(['--one-file-system']), [
          'keep.bin',
          'keep.txt',
          'skip/x.bin',
          'sub/y.bin',
          'sub/z.txt',
        ]);
      });
      await t.test('--include selects by name at any depth', async () => {
        assert.deepEqual(await paths(['--include', '*.bin']), ['inner/w.bin', 'keep.bin', 'skip/x.bin', 'sub/y.bin']);
      });
      await t.test('--exclude drops names and whole directories', async () => {
        assert.deepEqual(await paths(['--exclude', 'skip', '--exclude', '*.txt']), [
          'inner/w.bin',
          'keep.bin',
          'sub/y.bin',
        ]);
      });
      await t.test('the selection decides what import writes', async () => {
        const { list } = records(
          await cli(
            ['import', '-r', '--json', '--one-file-system', '--exclude', 'skip', '--include', '*.bin', root],
            0,
          ),
        );
        assert.deepEqual(
          list.map((x) => [relative(root, String(x.path)), x.status]),
          [
            ['keep.bin', 'imported'],
            ['sub/y.bin', 'imported'],
          ],
        );
        for (const p of files) {
          const want = p.endsWith('keep.bin') || p.endsWith('y.bin');
          assert.equal((await xattrOf(p)) !== undefined, want, p);
        }
        assert.equal(await xattrOf(w), undefined);
      });
    } finally {
      const u = spawnSync('umount', [point], { encoding: 'utf8' });
      if (u.status !== 0) spawnSync('umount', ['-l', point]);
    }
  },
);

// -------------------------------------------------------------------------------------------------

test('output order on ext4 is the same with --jobs 1 and --jobs 8', async (t) => {
  if (toolsMissing(t)) return;
  const m = await useMount(t, 'ext4');
  if (!m) return;
  const root = join(m.dir, 'order');
  // Names whose byte order differs from locale order; sizes that make later files finish first.
  const names = ['B', 'a', '_x', '10', '9', 'Z-z', 'é', 'a.b'];
  const spec: Record<string, Buffer> = {};
  let seed = 100;
  for (const d of ['', 'dir/', 'dir/Sub/', 'Dir/'])
    for (const n of names) spec[`${d}${n}`] = content(seed++, n === 'B' || n === '10' ? 1 << 20 : 300);
  const files = await writeFiles(root, spec);
  await cli(['sign', '-q', '-r', '-j', '8', ...SIGN, root], 0);
  await cli(['import', '-q', '-r', '-j', '8', join(root, 'dir')], 0);

  // The order the walk promises: byte order of names, depth first (a directory's contents where its name sorts).
  const expected: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = (await readdir(d, { withFileTypes: true })).filter((e) => !e.name.endsWith('.sig'));
    entries.sort((x, y) => Buffer.compare(Buffer.from(x.name), Buffer.from(y.name)));
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else expected.push(join(d, e.name));
    }
  };
  await walk(root);
  assert.equal(expected.length, files.length);

  for (const op of [['status'], ['verify', '--cert', CERT]]) {
    await t.test(`${op[0]}`, async () => {
      const one = records(await cli([...op, '-r', '--json', '-j', '1', root], 0));
      const eight = records(await cli([...op, '-r', '--json', '-j', '8', root], 0));
      assert.deepEqual(
        one.list.map((x) => x.path),
        expected,
      );
      assert.deepEqual(eight.list, one.list);
    });
  }
});

test(
  'read-back after each write: none on ext4, xfs and btrfs (their setxattr stores the ' +
    'value it returns success for), one per file before --remove-sidecar removes a sidecar',
  async (t) => {
    if (toolsMissing(t)) return;
    const why = missing({ commands: ['strace'] });
    if (why) return skipOrFail(t, why);
    // fs-xattr's calls on /proc/self/fd/N: setxattr, getxattr and listxattr. Each import looks for a value
    // before its "create only" write (fs-xattr has no XATTR_CREATE) by listing the names: two listxattr (the
    // size, then the names), no getxattr. A read that finds a value is two getxattr (the size, then the
    // bytes), so a read-back adds two.
    for (const kind of KINDS) {
      const m = await useMount(t, kind);
      if (!m) return;
      const tree = join(m.dir, 'readback');
      const files = Array.from({ length: 20 }, (_, i) => `f${i}`);
      await writeFiles(tree, Object.fromEntries(files.map((f, i) => [f, content(i + 1, 3000 + i)])));
      await cli(['sign', '-q', '-r', ...SIGN, tree], 0);
      // The xattr calls of an import run, counted by strace: every write, and every read of the value.
      const calls = async (
        args: string[],
      ): Promise<{ writes: number; reads: number; listings: number; imported: number }> => {
        const log = join(m.dir, `strace-${kind}.log`);
        const r = await run('strace', [
          '-f',
          '-e',
          'trace=setxattr,getxattr,listxattr',
          '-o',
          log,
          process.execPath,
          BIN,
          'import',
          '--json',
          ...args,
          tree,
        ]);
        assert.equal(r.status, 0, show(r));
        const text = await readFile(log, 'utf8');
        await rm(log);
        const count = (call: string): number =>
          text.split('\n').filter((l) => l.includes(`${call}(`) && l.includes('security.ima')).length;
        return {
          writes: count('setxattr'),
          reads: count('getxattr'),
          listings: text.split('\n').filter((l) => l.includes('listxattr("/proc/self/fd/')).length,
          imported: records(r).list.filter((x) => x.status === 'imported').length,
        };
      };
      const n = files.length;
      const plain = await calls(['-r']);
      assert.deepEqual(plain, { writes: n, reads: 0, listings: 2 * n, imported: n }, kind);
      await cli(['clear', '-q', '-r', tree], 0);
      const removing = await calls(['-r', '--remove-sidecar']);
      assert.deepEqual(
        removing,
        { writes: n, reads: 2 * n, listings: 2 * n, imported: n },
        `${kind}, --remove-sidecar`,
      );
      for (const f of files) assert.equal(existsSync(join(tree, `${f}.sig`)), false, `${kind}: ${f}.sig removed`);
    }
  },
);

test('an immutable file on ext4: import as root says what refused the write, not a missing capability', async (t) => {
  if (toolsMissing(t)) return;
  const why = missing({ root: true, commands: ['chattr'] });
  if (why) return skipOrFail(t, why);
  const m = await useMount(t, 'ext4');
  if (!m) return;
  const [file] = await writeFiles(m.dir, { vmlinuz: 'a kernel\n' });
  await cli(['sign', '-q', ...SIGN, file!], 0);
  const locked = await run('chattr', ['+i', file!]);
  assert.equal(locked.status, 0, show(locked));
  t.after(() => run('chattr', ['-i', file!]));
  const r = await cli(['import', file!], 1);
  assert.match(r.stdout + r.stderr, /permission denied \(EPERM\) although this process has CAP_SYS_ADMIN/);
  assert.match(r.stdout + r.stderr, /immutable or append-only \(lsattr\)/);
  assert.doesNotMatch(r.stdout + r.stderr, /needs CAP_SYS_ADMIN/);
  assert.equal(r.stderr.split('\n').filter(Boolean).length <= 1, true, show(r));
  assert.equal(await xattrOf(file!), undefined, 'nothing written');
});
