// Folder listings (src/carriers/folder-listing.ts): names in byte order, raw bytes kept for names that
// are not UTF-8 (decoded losslessly), types from the listing, for any name the kernel accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { EntryType, listFolder } from '../../src/carriers/folder-listing.js';
import { decodeFsName, descriptorPath } from '../../src/carriers/fs-path.js';
import { tempDir } from '../helpers/cli.js';

function listed(dir: string) {
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    return listFolder(descriptorPath(fd));
  } finally {
    closeSync(fd);
  }
}

test('a listing: byte order, raw bytes for names that are not UTF-8, types from d_type', async (t) => {
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

  const l = listed(dir);
  assert.deepEqual(l.raw, [...l.raw].sort(Buffer.compare), 'sorted by bytes');
  assert.equal(l.names.length, names.length + 3, 'no . or ..');
  l.names.forEach((name, i) => assert.equal(name, decodeFsName(l.raw[i]!), 'each name is its bytes, decoded'));
  const typeOf = (name: string) => l.types[l.names.indexOf(name)];
  assert.equal(typeOf('a'), EntryType.RegularFile);
  assert.equal(typeOf('sub'), EntryType.Directory);
  assert.equal(typeOf('link'), EntryType.SymbolicLink);
  assert.equal(typeOf('fifo'), EntryType.Fifo);
  const latin = l.names.indexOf('lat\udce9');
  assert.ok(latin >= 0, 'a byte outside UTF-8 is a lone surrogate in the text');
  assert.equal(l.raw[latin]!.toString('hex'), '6c6174e9', 'and itself in the bytes');
});

test('property: any name the kernel accepts is listed with its exact bytes, in byte order', async (t) => {
  const dir = await tempDir(t);
  let round = 0;
  const nameBytes = fc
    .uint8Array({ minLength: 1, maxLength: 40 })
    .map((b) => Buffer.from(b.map((x) => (x === 0 || x === 0x2f ? 0x61 : x))))
    .filter((b) => !b.equals(Buffer.from('.')) && !b.equals(Buffer.from('..')));
  fc.assert(
    fc.property(fc.uniqueArray(nameBytes, { minLength: 1, maxLength: 8, comparator: (a, b) => a.equals(b) }), (set) => {
      const sub = join(dir, String(round++));
      mkdirSync(sub);
      for (const n of set) writeFileSync(Buffer.concat([Buffer.from(sub + '/'), n]), '');
      const l = listed(sub);
      assert.deepEqual(l.raw, [...set].sort(Buffer.compare));
      l.names.forEach((name, i) => assert.equal(name, decodeFsName(l.raw[i]!)));
    }),
    { numRuns: 60 },
  );
});
