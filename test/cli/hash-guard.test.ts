import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixture, jsonOutput, runCli, show, tempDir } from '../helpers/cli.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');

test('hash --to sidecar|xattr refuses to replace a signature with a digest unless --force', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'vmlinuz');
  await writeFile(file, 'kernel image bytes');
  assert.equal(
    (await runCli(['sign', '-q', '--key', KEY, '--cert', CERT, '--to', 'both', '--xattr', 'user.ima', file])).status,
    0,
  );
  const signature = await readFile(`${file}.sig`);

  for (const to of ['sidecar', 'xattr']) {
    const r = await runCli(['hash', '--to', to, '--xattr', 'user.ima', '--json', file]);
    assert.equal(r.status, 1, show(r));
    const { records } = jsonOutput(r.stdout);
    assert.equal(records[0]!.status, 'conflict');
    assert.equal(records[0]!.current, signature.toString('hex'));
  }
  assert.deepEqual(await readFile(`${file}.sig`), signature, 'sidecar untouched');
  const verified = await runCli(['verify', '--cert', CERT, '--xattr', 'user.ima', file]);
  assert.equal(verified.status, 0, show(verified));

  const forced = await runCli(['hash', '--to', 'sidecar', '--force', '--json', file]);
  assert.equal(forced.status, 0, show(forced));
  const rec = jsonOutput(forced.stdout).records[0]!;
  assert.equal(rec.status, 'replaced');
  assert.equal(rec.replaced, signature.toString('hex'), 'the replaced signature is in the record');
  assert.equal((await readFile(`${file}.sig`))[0], 0x04);
});
