import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as lib from '../../src/index.js';
import { VERSION } from '../../src/version.js';

test('the package version and the CLI version agree', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(VERSION, pkg.version);
});

test('the library exports the operations the CLI runs', () => {
  for (const name of [
    'signTree',
    'verifyTree',
    'importTree',
    'exportTree',
    'statusTree',
    'clearTree',
    'migrate',
    'hashTree',
    'inspect',
    'keyidsOf',
    'decodeImaValue',
    'encodeImaValue',
    'loadCertificates',
    'loadPrivateKey',
    'selectFiles',
    'runOrdered',
  ]) {
    assert.equal(typeof (lib as Record<string, unknown>)[name], 'function', name);
  }
});

test('package.json points at the built entry point and the man page', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    main: string;
    types: string;
    bin: Record<string, string>;
    man: string[];
  };
  assert.equal(pkg.main, './dist/src/index.js');
  assert.equal(pkg.types, './dist/src/index.d.ts');
  assert.equal(pkg.bin['ima-sidecar'], 'bin/ima-sidecar');
  assert.deepEqual(pkg.man, ['./man/ima-sidecar.1']);
});
