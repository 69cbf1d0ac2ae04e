// Folder listings (src/carriers/folder-listing.ts) on both backends: the native listDir
// (native/descriptor-calls.c: its own sort by bytes and its own UTF-8 check) and Node's readdir.
// Both must give the same names, bytes, order and types, for any name the kernel accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants as fsc, mkdirSync, openSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { descriptorCalls, descriptorCallsBackend } from '../../src/carriers/descriptor-calls.js';
import { tempDir } from '../helpers/cli.js';
import { skipOrFail } from '../helpers/skip.js';

const LISTING_MODULE = fileURLToPath(new URL('../../src/carriers/folder-listing.js', import.meta.url));
const NATIVE_MODULE = fileURLToPath(new URL('../../src/carriers/descriptor-calls.js', import.meta.url));

interface Listed {
  backend: string;
  entries: { name: string; raw: string; rawIsText: boolean; type: number }[];
}

/** Lists `dir` in a fresh process (the backend is chosen once per process): each name, its bytes in hex, and its type. */
function listIn(dir: string, env: Record<string, string>): Listed {
  const script = `
    import { openSync, constants } from 'node:fs';
    import { listFolder } from ${JSON.stringify(LISTING_MODULE)};
    import { descriptorCallsBackend } from ${JSON.stringify(NATIVE_MODULE)};
    const fd = openSync(${JSON.stringify(dir)}, constants.O_RDONLY | constants.O_DIRECTORY);
    const l = listFolder(fd, '/proc/' + process.pid + '/fd/' + fd);
    const entries = l.names.map((name, i) => ({ name, raw: Buffer.from(l.raw[i]).toString('hex'), rawIsText: typeof l.raw[i] === 'string', type: l.types[i] }));
    console.log(JSON.stringify({ backend: descriptorCallsBackend().name, entries }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Listed;
}

/** What each name should look like: the text (lone surrogates for bytes outside UTF-8) and the bytes. */
function lossless(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 'not UTF-8';
  }
}

test('native and Node listings agree: byte order, raw bytes for names that are not UTF-8, types from d_type', async (t) => {
  if (!descriptorCalls())
    return skipOrFail(
      t,
      `native descriptor calls not built (npm install builds them): ${descriptorCallsBackend().why}`,
    );
  const dir = await tempDir(t);
  const names = [
    'a',
    'a.sig',
    'B',
    'é',
    'e\u0301',
    '日本',
    '😀',
    'space name',
    'new\nline',
    // Not UTF-8: Latin-1 é, 0xff, an overlong NUL, an encoded surrogate, past U+10FFFF, a cut sequence.
    Buffer.from('lat\xe9', 'latin1'),
    Buffer.of(0xff),
    Buffer.of(0x61, 0xc0, 0x80),
    Buffer.of(0xed, 0xa0, 0x80),
    Buffer.of(0xf4, 0x90, 0x80, 0x80),
    Buffer.of(0x61, 0xe6, 0x97),
  ];
  for (const n of names) writeFileSync(Buffer.concat([Buffer.from(dir + '/'), Buffer.from(n)]), 'x');
  mkdirSync(join(dir, 'sub'));
  symlinkSync('a', join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);

  const native = listIn(dir, {});
  const node = listIn(dir, { IMA_SIDECAR_NATIVE: '0' });
  assert.equal(native.backend, 'native');
  assert.equal(node.backend, 'fs-xattr');
  assert.deepEqual(
    native.entries.map((e) => ({ ...e, rawIsText: undefined })),
    node.entries.map((e) => ({ ...e, rawIsText: undefined })),
  );

  const hexes = native.entries.map((e) => e.raw);
  assert.deepEqual(
    hexes,
    [...hexes].sort((x, y) => Buffer.compare(Buffer.from(x, 'hex'), Buffer.from(y, 'hex'))),
    'sorted by bytes',
  );
  assert.equal(native.entries.length, names.length + 3, 'no . or ..');
  const byName = new Map(native.entries.map((e) => [e.name, e]));
  assert.equal(byName.get('a')!.type, 8);
  assert.equal(byName.get('sub')!.type, 4);
  assert.equal(byName.get('link')!.type, 10);
  assert.equal(byName.get('fifo')!.type, 1);
  assert.equal(
    byName.get('lat\udce9')!.raw,
    '6c6174e9',
    'a byte outside UTF-8 is a lone surrogate in the text and itself in the bytes',
  );
  assert.equal(byName.get('lat\udce9')!.rawIsText, false);
  assert.equal(byName.get('日本')!.rawIsText, true, 'plain text is passed as text');
});

test('property: the native UTF-8 check agrees with a strict decoder on any name', async (t) => {
  const native = descriptorCalls();
  if (!native)
    return skipOrFail(
      t,
      `native descriptor calls not built (npm install builds them): ${descriptorCallsBackend().why}`,
    );
  const dir = await tempDir(t);
  // Names built from valid characters and near-misses: a lead byte at an edge of Unicode table 3-7
  // followed by bytes at the edges of the continuation ranges, so each verdict turns on one byte.
  const validChar = fc
    .string({ unit: 'binary', minLength: 1, maxLength: 1 })
    .map((c) => [...Buffer.from(c)])
    .filter((b) => !b.includes(0) && !b.includes(0x2f));
  const lead = fc.constantFrom(
    0x7f,
    0x80,
    0xbf,
    0xc0,
    0xc1,
    0xc2,
    0xdf,
    0xe0,
    0xe1,
    0xec,
    0xed,
    0xee,
    0xef,
    0xf0,
    0xf1,
    0xf3,
    0xf4,
    0xf5,
    0xff,
  );
  const cont = fc.constantFrom(0x61, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0);
  const nearMiss = fc.tuple(lead, fc.array(cont, { minLength: 0, maxLength: 3 })).map(([l, c]) => [l, ...c]);
  const nameBytes = fc
    .array(fc.oneof(validChar, nearMiss), { minLength: 1, maxLength: 4 })
    .map((parts) => Uint8Array.from(parts.flat()))
    .filter((b) => b.length <= 255 && !(b.length <= 2 && b.every((x) => x === 0x2e)));
  fc.assert(
    fc.property(
      fc.uniqueArray(nameBytes, { minLength: 1, maxLength: 20, selector: (b) => Buffer.from(b).toString('hex') }),
      (list) => {
        const sub = join(dir, `p${Math.random().toString(36).slice(2)}`);
        mkdirSync(sub);
        for (const b of list) writeFileSync(Buffer.concat([Buffer.from(sub + '/'), Buffer.from(b)]), '');
        const fd = openSync(sub, fsc.O_RDONLY | fsc.O_DIRECTORY);
        try {
          const r = native.listDir(fd);
          assert.ok(Array.isArray(r));
          const [got] = r;
          const expected = list.map((b) => Buffer.from(b)).sort(Buffer.compare);
          assert.equal(got.length, expected.length);
          got.forEach((n, i) => {
            const text = lossless(expected[i]!);
            if (text === 'not UTF-8')
              assert.ok(Buffer.isBuffer(n) && n.equals(expected[i]!), `bytes for ${expected[i]!.toString('hex')}`);
            else assert.equal(n, text);
          });
          assert.equal(readdirSync(sub).length, list.length);
        } finally {
          closeSync(fd);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('listDir: a descriptor that is not a folder, or none, is an errno, not a throw', async (t) => {
  const native = descriptorCalls();
  if (!native)
    return skipOrFail(
      t,
      `native descriptor calls not built (npm install builds them): ${descriptorCallsBackend().why}`,
    );
  const dir = await tempDir(t);
  writeFileSync(join(dir, 'f'), '');
  const fd = openSync(join(dir, 'f'), 'r');
  try {
    assert.equal(native.listDir(fd), 20, 'ENOTDIR');
  } finally {
    closeSync(fd);
  }
  assert.equal(native.listDir(1 << 30), 9, 'EBADF');
  assert.throws(() => (native.listDir as (x: unknown) => unknown)('3'), TypeError);
});
