// File names that are not valid UTF-8, through the real command line. A name is bytes; Node reads names
// and arguments as UTF-8 strings and would lose such bytes (0xff becomes U+FFFD, and the file can then
// not be opened). The project's convention (src/carriers/fs-path.ts, PEP 383 "surrogateescape"): each
// byte outside valid UTF-8 is the lone surrogate U+DC00+byte inside the program, `\xNN` in people's
// output and `\udcNN` in JSON (which Python's os.fsencode turns back into the byte).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, fixture, jsonOutput, loadManifest, run, runCli, show, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

const KEY = (name: string) => fixture(`keys/${name}`);

function fixturesOk(t: TestContext): boolean {
  if (!loadManifest() || !existsSync(KEY('rsa2048.key.pem'))) {
    skipOrFail(t, 'the golden fixtures are missing');
    return false;
  }
  return true;
}

/** Makes dir/<prefix><byte><suffix> through a Buffer path; returns the raw name. */
function rawFile(dir: string, prefix: string, byte: number, suffix: string, content: string | Buffer): Buffer {
  const name = Buffer.concat([Buffer.from(prefix), Buffer.of(byte), Buffer.from(suffix)]);
  writeFileSync(Buffer.concat([Buffer.from(dir + '/'), name]), content);
  return name;
}

test(
  'sign -r, verify -r and hash -r handle names that ' + 'are not valid UTF-8; sidecars get the exact bytes',
  async (t) => {
    if (!fixturesOk(t)) return;
    const dir = await tempDir(t);
    const content = Buffer.from('latin-1 named file\n');
    const name = rawFile(dir, 'caf', 0xe9, '.bin', content); // "café.bin" in Latin-1
    writeFileSync(join(dir, 'plain.bin'), 'plain');
    const s = await runCli(
      ['sign', '--json', '--key', KEY('rsa2048.key.pem'), '--cert', KEY('rsa2048.crt.pem'), '-r', '.'],
      { cwd: dir },
    );
    assert.equal(s.status, 0, show(s));
    const signed = jsonOutput(s.stdout).records;
    assert.deepEqual(
      signed.map((r) => [r.path, r.status]),
      [
        ['./caf\udce9.bin', 'signed'],
        ['./plain.bin', 'signed'],
      ],
    );
    // The sidecar sits beside the file under the same raw bytes plus ".sig".
    const listing = readdirSync(dir, { encoding: 'buffer' });
    assert.ok(
      listing.some((n) => n.equals(Buffer.concat([name, Buffer.from('.sig')]))),
      `no raw-named sidecar in ${listing.map((n) => n.toString('hex')).join(' ')}`,
    );
    const v = await runCli(['verify', '--cert', KEY('rsa2048.crt.pem'), '-r', '.'], { cwd: dir });
    assert.equal(v.status, 0, show(v));
    assert.match(v.stdout, /^\.\/caf\\xe9\.bin: ok /m);
    const h = await runCli(['hash', '-r', '.'], { cwd: dir });
    assert.equal(h.status, 0, show(h));
    assert.match(
      h.stdout,
      new RegExp(`^0404${createHash('sha256').update(content).digest('hex')}  \\./caf\\\\xe9\\.bin$`, 'm'),
    );
  },
);

test('a non-UTF-8 name given as an argument (and as its sidecar) reaches the right file', async (t) => {
  if (!fixturesOk(t)) return;
  if (!haveCommand('sh')) return skipOrFail(t, 'needs sh');
  const dir = await tempDir(t);
  rawFile(dir, 'bad-', 0xff, '-name', 'x');
  // Arguments with raw bytes cannot be passed through spawn (it encodes strings as UTF-8): let the shell make them.
  const sh = (args: string) => run('sh', ['-c', `exec "${process.execPath}" "${BIN}" ${args}`], { cwd: dir });
  const s = await sh(
    `sign --json --key '${KEY('rsa2048.key.pem')}' --cert '${KEY('rsa2048.crt.pem')}' "$(printf 'bad-\\377-name')"`,
  );
  assert.equal(s.status, 0, show(s));
  assert.equal(jsonOutput(s.stdout).records[0]!.path, 'bad-\udcff-name');
  const v = await sh(`verify --json --cert '${KEY('rsa2048.crt.pem')}' "$(printf 'bad-\\377-name.sig')"`);
  assert.equal(v.status, 0, show(v));
  const rec = jsonOutput(v.stdout).records[0]!;
  assert.deepEqual([rec.path, rec.status], ['bad-\udcff-name', 'ok']);
  // JSON carries the byte as the escape \udcff, which is valid JSON text.
  assert.ok(v.stdout.includes('"path":"bad-\\udcff-name"'), v.stdout);
  assert.deepEqual(readFileSync(Buffer.from(`${dir}/bad-\xff-name.sig`, 'latin1')).subarray(0, 3), Buffer.of(3, 2, 4));
});
