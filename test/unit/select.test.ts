// Selection of targets: byte-sorted depth-first walks, X.sig meaning X, orphan sidecars, symlinks reported
// and never followed, include/exclude globs, awkward names (spaces, newlines, non-UTF-8 bytes), stale
// temporaries, and the ordered bounded runner.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Selected, SelectOptions, selectFiles } from '../../src/select/walk.js';
import { runOrdered } from '../../src/select/runner.js';
import { tempDir } from '../helpers/cli.js';

async function collect(paths: string[], opts: Partial<SelectOptions> = {}): Promise<Selected[]> {
  const out: Selected[] = [];
  for await (const s of selectFiles(paths, { suffix: '.sig', ...opts })) out.push(s);
  return out;
}

/** A short form of each selection: "target PATH", "orphan PATH <- SIDECAR", "skipped PATH: REASON". */
function brief(s: Selected): string {
  if (s.kind === 'target') return `target ${s.path}`;
  if (s.kind === 'orphan') return `orphan ${s.path} <- ${s.sidecar}`;
  return `skipped ${s.path}: ${s.reason}${s.explicit ? '' : ' (in walk)'}`;
}

async function tree(root: string, files: Record<string, string | null>): Promise<void> {
  // A value of null makes a directory.
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    if (content === null) await mkdir(p, { recursive: true });
    else {
      await mkdir(join(p, '..'), { recursive: true });
      await writeFile(p, content);
    }
  }
}

describe('walk order', () => {
  test('depth first, names sorted by their bytes (not by locale), directories at their place', async (t) => {
    const root = await tempDir(t);
    const names = ['b', 'B', 'a', 'Z', '_x', '10', '9', 'a b', 'a.b', 'é', 'e', 'z', '~', 'ä'];
    await tree(root, Object.fromEntries(names.map((n) => [n, n])));
    await tree(root, { 'm/2': '', 'm/1': '', 'm/A/x': '', 'M/y': '' });
    const got = (await collect([root], { recursive: true })).map((s) => s.path.slice(root.length + 1));
    const expected = [...names, 'm/2', 'm/1', 'm/A/x', 'M/y'];
    // Expected: compare whole relative paths component by component in byte order.
    const sorted = [...expected].sort((x, y) => {
      const a = x.split('/');
      const b = y.split('/');
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const c = Buffer.compare(Buffer.from(a[i]!), Buffer.from(b[i]!));
        if (c !== 0) return c;
      }
      return a.length - b.length;
    });
    assert.deepEqual(got, sorted);
    assert.deepEqual(got.slice(0, 6), ['10', '9', 'B', 'M/y', 'Z', '_x']);
    assert.deepEqual(got.slice(-4), ['z', '~', 'ä', 'é']);
  });

  test('the same tree walks the same way every time', async (t) => {
    const root = await tempDir(t);
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`d${i % 4}/f${(i * 7919) % 61}`] = String(i);
    await tree(root, files);
    const first = (await collect([root], { recursive: true })).map(brief);
    for (let i = 0; i < 3; i++) assert.deepEqual((await collect([root], { recursive: true })).map(brief), first);
    assert.equal(first.length, 60);
  });

  test('paths keep the spelling of the argument: "dir", "dir/", "./dir"', async (t) => {
    const root = await tempDir(t);
    await tree(root, { 'd/a': '', 'd/s/b': '' });
    const prev = process.cwd();
    process.chdir(root);
    try {
      assert.deepEqual((await collect(['d'], { recursive: true })).map(brief), ['target d/a', 'target d/s/b']);
      assert.deepEqual((await collect(['d/'], { recursive: true })).map(brief), ['target d/a', 'target d/s/b']);
      assert.deepEqual((await collect(['./d'], { recursive: true })).map(brief), ['target ./d/a', 'target ./d/s/b']);
    } finally {
      process.chdir(prev);
    }
  });

  test('root and rel of each target', async (t) => {
    const root = await tempDir(t);
    await tree(root, { 'x/y/z': '' });
    const [s] = await collect([join(root, 'x')], { recursive: true });
    assert.ok(s && s.kind === 'target');
    assert.equal(s.root, join(root, 'x'));
    assert.equal(s.rel, 'y/z');
    const [f] = await collect([join(root, 'x/y/z')]);
    assert.ok(f && f.kind === 'target');
    assert.deepEqual([f.root, f.rel], [join(root, 'x/y/z'), '']);
  });
});

describe('arguments', () => {
  test('X.sig given by name means X; X and X.sig together give X once', async (t) => {
    const root = await tempDir(t);
    await tree(root, { a: '1', 'a.sig': 's', b: '2' });
    const a = join(root, 'a');
    assert.deepEqual((await collect([`${a}.sig`])).map(brief), [`target ${a}`]);
    assert.deepEqual((await collect([a, `${a}.sig`, a])).map(brief), [`target ${a}`]);
    assert.deepEqual((await collect([`${a}.sig`, a])).map(brief), [`target ${a}`]);
  });

  test('X.sig whose X is missing is an orphan; a missing argument is skipped with ENOENT', async (t) => {
    const root = await tempDir(t);
    await tree(root, { 'gone.sig': 's' });
    const gone = join(root, 'gone');
    assert.deepEqual((await collect([`${gone}.sig`])).map(brief), [`orphan ${gone} <- ${gone}.sig`]);
    const [s] = await collect([join(root, 'nothing')]);
    assert.ok(s && s.kind === 'skipped');
    assert.equal(s.code, 'ENOENT');
    assert.equal(s.explicit, true);
    assert.match(s.reason, /no such file or directory/);
  });

  test('the suffix is configurable; ".sig" alone is a file named .sig, not a sidecar', async (t) => {
    const root = await tempDir(t);
    await tree(root, { f: '', 'f.ima': '', '.sig': '', 'f.sig': '' });
    const f = join(root, 'f');
    assert.deepEqual((await collect([`${f}.ima`], { suffix: '.ima' })).map(brief), [`target ${f}`]);
    assert.deepEqual((await collect([`${f}.sig`], { suffix: '.ima' })).map(brief), [`target ${f}.sig`]);
    assert.deepEqual((await collect([join(root, '.sig')])).map(brief), [`target ${join(root, '.sig')}`]);
    assert.deepEqual((await collect([root], { recursive: true, suffix: '.ima' })).map(brief), [
      `target ${join(root, '.sig')}`,
      `target ${f}`,
      `target ${f}.sig`,
    ]);
  });

  test('a directory without -r is skipped with the reason', async (t) => {
    const root = await tempDir(t);
    const [s] = await collect([root]);
    assert.ok(s && s.kind === 'skipped');
    assert.equal(s.reason, 'is a directory (use -r to descend)');
    assert.equal(s.explicit, true);
  });

  test('a FIFO given by name is skipped; in a walk it is passed over', async (t) => {
    const root = await tempDir(t);
    const fifo = join(root, 'pipe');
    execFileSync('mkfifo', [fifo]);
    await writeFile(join(root, 'file'), '');
    assert.deepEqual((await collect([fifo])).map(brief), [`skipped ${fifo}: is a FIFO, not a regular file`]);
    assert.deepEqual((await collect([root], { recursive: true })).map(brief), [`target ${join(root, 'file')}`]);
  });
});

describe('sidecars in a walk', () => {
  test('a sidecar beside its file is covered by the file; one without its file is an orphan', async (t) => {
    const root = await tempDir(t);
    await tree(root, { a: '', 'a.sig': '', 'b.sig': '', 'c.sig.sig': '', 'c.sig': '', 'd/e.sig': '' });
    assert.deepEqual((await collect([root], { recursive: true })).map(brief), [
      `target ${join(root, 'a')}`,
      `orphan ${join(root, 'b')} <- ${join(root, 'b.sig')}`,
      // c.sig has no c beside it: an orphan; c.sig.sig is covered by c.sig.
      `orphan ${join(root, 'c')} <- ${join(root, 'c.sig')}`,
      `orphan ${join(root, 'd/e')} <- ${join(root, 'd/e.sig')}`,
    ]);
  });

  test('a directory named like a sidecar is walked', async (t) => {
    const root = await tempDir(t);
    await tree(root, { 'x.sig/inner': '' });
    assert.deepEqual((await collect([root], { recursive: true })).map(brief), [`target ${join(root, 'x.sig/inner')}`]);
  });
});

describe('symlinks are reported and never followed', () => {
  test('given by name: a link to a file, to a directory, dangling, and X.sig whose X is a link', async (t) => {
    const root = await tempDir(t);
    await tree(root, { real: 'x', 'realdir/f': '', 'lnk.sig': '' });
    await symlink('real', join(root, 'lnk'));
    await symlink('realdir', join(root, 'dirlink'));
    await symlink('nowhere', join(root, 'dangling'));
    for (const name of ['lnk', 'dangling']) {
      const [s] = await collect([join(root, name)]);
      assert.deepEqual(s && brief(s), `skipped ${join(root, name)}: is a symbolic link; not followed`);
      assert.ok(s.kind === 'skipped' && s.explicit && s.code === 'ELOOP');
    }
    const [d] = await collect([join(root, 'dirlink')], { recursive: true });
    assert.deepEqual(d && brief(d), `skipped ${join(root, 'dirlink')}: is a symbolic link; not followed`);
    const [viaSig] = await collect([join(root, 'lnk.sig')]);
    assert.deepEqual(viaSig && brief(viaSig), `skipped ${join(root, 'lnk')}: is a symbolic link; not followed`);
  });

  test('in a walk: links to files and directories are reported, not descended, and do not fail the run', async (t) => {
    const root = await tempDir(t);
    await tree(root, { 'a/f': '', 'b/g': '' });
    await symlink('../b', join(root, 'a/to-b'));
    await symlink('../b/g', join(root, 'a/to-g'));
    await symlink('.', join(root, 'a/loop'));
    await symlink('/etc/passwd', join(root, 'a/abs'));
    const got = (await collect([join(root, 'a')], { recursive: true })).map(brief);
    assert.deepEqual(got, [
      `skipped ${join(root, 'a/abs')}: is a symbolic link; not followed (in walk)`,
      `target ${join(root, 'a/f')}`,
      `skipped ${join(root, 'a/loop')}: is a symbolic link; not followed (in walk)`,
      `skipped ${join(root, 'a/to-b')}: is a symbolic link; not followed (in walk)`,
      `skipped ${join(root, 'a/to-g')}: is a symbolic link; not followed (in walk)`,
    ]);
  });

  test('a sidecar that is a symlink, without its file, is reported as such', async (t) => {
    const root = await tempDir(t);
    await tree(root, { elsewhere: '' });
    await symlink('elsewhere', join(root, 'x.sig'));
    assert.deepEqual((await collect([root], { recursive: true })).map(brief), [
      `target ${join(root, 'elsewhere')}`,
      `skipped ${join(root, 'x.sig')}: sidecar is a symbolic link; not followed (in walk)`,
    ]);
  });
});

describe('include and exclude', () => {
  const files = {
    'a.bin': '',
    'a.txt': '',
    'sub/b.bin': '',
    'sub/c.txt': '',
    'sub/deep/d.bin': '',
    'skip/e.bin': '',
    'o.bin.sig': '',
    'o.txt.sig': '',
    '.hidden.bin': '',
  };

  test('a pattern without a slash matches names at any depth (dotfiles included)', async (t) => {
    const root = await tempDir(t);
    await tree(root, files);
    const got = (await collect([root], { recursive: true, include: ['*.bin'] })).map((s) =>
      brief(s).replace(root + '/', ''),
    );
    assert.deepEqual(got, [
      'target .hidden.bin',
      'target a.bin',
      'orphan o.bin <- ' + join(root, 'o.bin.sig'),
      'target skip/e.bin',
      'target sub/b.bin',
      'target sub/deep/d.bin',
    ]);
  });

  test('a pattern with a slash matches the path relative to the directory argument', async (t) => {
    const root = await tempDir(t);
    await tree(root, files);
    const got = (await collect([root], { recursive: true, include: ['sub/*.bin'] })).map((s) =>
      brief(s).replace(root + '/', ''),
    );
    assert.deepEqual(got, ['target sub/b.bin']);
    const deep = (await collect([root], { recursive: true, include: ['sub/**'] })).map((s) =>
      brief(s).replace(root + '/', ''),
    );
    assert.deepEqual(deep, ['target sub/b.bin', 'target sub/c.txt', 'target sub/deep/d.bin']);
  });

  test('exclude skips files and whole directories; exclude wins over include', async (t) => {
    const root = await tempDir(t);
    await tree(root, files);
    const got = (await collect([root], { recursive: true, exclude: ['skip', '*.txt', 'deep'] })).map((s) =>
      brief(s).replace(root + '/', ''),
    );
    assert.deepEqual(got, [
      'target .hidden.bin',
      'target a.bin',
      'orphan o.bin <- ' + join(root, 'o.bin.sig'),
      'target sub/b.bin',
    ]);
    const both = (await collect([root], { recursive: true, include: ['*.bin'], exclude: ['sub/*'] })).map((s) =>
      brief(s).replace(root + '/', ''),
    );
    assert.deepEqual(both, [
      'target .hidden.bin',
      'target a.bin',
      'orphan o.bin <- ' + join(root, 'o.bin.sig'),
      'target skip/e.bin',
    ]);
  });

  test('several patterns of each kind add up', async (t) => {
    const root = await tempDir(t);
    await tree(root, files);
    const got = (await collect([root], { recursive: true, include: ['a.*', 'c.txt'], exclude: ['*.bin'] })).map((s) =>
      brief(s).replace(root + '/', ''),
    );
    assert.deepEqual(got, ['target a.txt', 'target sub/c.txt']);
  });
});

describe('awkward names', () => {
  test('spaces, newlines, tabs, quotes, a leading dash and non-ASCII UTF-8 work', async (t) => {
    const root = await tempDir(t);
    const names = [
      'with space',
      'new\nline',
      'tab\there',
      'quote"\'',
      '-dash',
      'ünïcödé',
      '日本',
      'back\\slash',
      'glob*?[x]',
    ];
    for (const n of names) {
      await writeFile(join(root, n), n);
      await writeFile(join(root, `${n}.sig`), 's');
    }
    await writeFile(join(root, 'orphan with\nnewline.sig'), 's');
    const got = await collect([root], { recursive: true });
    const targets = got.filter((s) => s.kind === 'target').map((s) => s.path.slice(root.length + 1));
    assert.deepEqual(new Set(targets), new Set(names));
    assert.deepEqual(got.filter((s) => s.kind === 'orphan').map(brief), [
      `orphan ${join(root, 'orphan with\nnewline')} <- ${join(root, 'orphan with\nnewline.sig')}`,
    ]);
    // Each also works given by name, and through its sidecar.
    for (const n of names) {
      assert.deepEqual((await collect([join(root, n)])).map(brief), [`target ${join(root, n)}`]);
      assert.deepEqual((await collect([join(root, `${n}.sig`)])).map(brief), [`target ${join(root, n)}`]);
    }
  });

  // Non-UTF-8 names: Node decodes a name read as a string lossily (0xff becomes U+FFFD), so such a file
  // could be listed but never opened ("no such file or directory"). The project's convention
  // (src/carriers/fs-path.ts, PEP 383 "surrogateescape") is that each byte outside valid UTF-8 becomes
  // the lone surrogate U+DC80+byte in the path string, which the carriers turn back into the bytes.
  test(
    'a name that is not valid UTF-8 is listed losslessly ' + '(byte 0xff as U+DCFF) and its sidecar is covered',
    async (t) => {
      const root = await tempDir(t);
      // Created through a Buffer path: 'bad-' 0xff '-name', its sidecar, and a Latin-1 'caf' 0xe9.
      const raw = Buffer.concat([Buffer.from(root + '/bad-'), Buffer.of(0xff), Buffer.from('-name')]);
      writeFileSync(raw, 'x');
      writeFileSync(Buffer.concat([raw, Buffer.from('.sig')]), 's');
      writeFileSync(Buffer.concat([Buffer.from(root + '/caf'), Buffer.of(0xe9)]), 'x');
      await writeFile(join(root, 'caf\u00e9'), 'utf-8 twin');
      const got = (await collect([root], { recursive: true })).map(brief);
      // Byte order: 'bad-' 0xff, then 'caf' 0xc3 0xa9 (UTF-8 é), then 'caf' 0xe9.
      assert.deepEqual(got, [`target ${root}/bad-\udcff-name`, `target ${root}/caf\u00e9`, `target ${root}/caf\udce9`]);
    },
  );
});

describe('temporary files of our own writers', () => {
  test(
    'a temporary left by a dead process is reported for ' +
      "cleaning; a live writer's is left alone; neither is a target",
    async (t) => {
      const root = await tempDir(t);
      // The pattern of carriers/atomic-write.ts: .NAME.PID.8HEX.ima-sidecar-tmp
      const dead = `.f.sig.999999999.0123abcd.ima-sidecar-tmp`;
      const live = `.g.sig.${process.pid}.89abcdef.ima-sidecar-tmp`;
      await tree(root, { f: '', g: '', [dead]: '', [live]: '' });
      const stale: string[] = [];
      const got = (
        await collect([root], {
          recursive: true,
          onStaleTemporary: (p) => {
            stale.push(p);
          },
        })
      ).map(brief);
      assert.deepEqual(got, [`target ${join(root, 'f')}`, `target ${join(root, 'g')}`]);
      assert.deepEqual(stale, [join(root, dead)]);
    },
  );
});

describe('runOrdered (order, bound and stop: test/unit/runner.test.ts)', () => {
  test('a rejected item rejects the run at its place in the order', async () => {
    const out: number[] = [];
    await assert.rejects(async () => {
      for await (const r of runOrdered([0, 1, 2, 3], 2, async (i) => {
        if (i === 2) throw new Error('boom');
        return i;
      }))
        out.push(r);
    }, /boom/);
    assert.deepEqual(out, [0, 1]);
  });
});
