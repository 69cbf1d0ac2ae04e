// Interoperability with evmctl 1.4, through the real command line.
//
// 1. Golden, table-driven from test/fixtures/manifest.json (values evmctl 1.4 made earlier): every RSA
//    sidecar equals our `sign` output byte for byte (same key, algo, payload, keyid source); every valid
//    sidecar (RSA and ECDSA) verifies with us, with PEM and with DER certificates; the invalid ones
//    (Ed25519 garbage, DSA) do not; every `hash` value equals evmctl's ima_hash value.
// 2. Live, running /usr/bin/evmctl on fresh files in both directions: our sidecars pass
//    `evmctl ima_verify --sigfile --key CERT.der`, evmctl's sidecars pass our verify (PEM and DER certs),
//    RSA sidecars are byte-identical, and `hash` equals `evmctl ima_hash` for sha1, sha256 and sha512.
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  fixture,
  jsonOutput,
  loadManifest,
  type Manifest,
  type ManifestEntry,
  privateKeyEntry,
  run,
  runCli,
  type RunResult,
  show,
  tempDir,
} from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

let manifest: Manifest | undefined;

before(() => {
  manifest = loadManifest();
});

function needManifest(t: TestContext): Manifest | undefined {
  if (!manifest) skipOrFail(t, 'test/fixtures/manifest.json is missing');
  return manifest;
}

function needEvmctl(t: TestContext): boolean {
  if (!haveCommand('evmctl')) {
    skipOrFail(t, 'needs the command evmctl (ima-evm-utils)');
    return false;
  }
  return true;
}

const sidecars = (m: Manifest) => m.files.filter((f) => f.kind === 'sidecar');
const keyPath = (m: Manifest, key: string): string => {
  const e = privateKeyEntry(m, key);
  assert.ok(e, `no private key "${key}" in the manifest`);
  return fixture(e.file);
};

/** Copies `payload` (a fixture path) into dir/<n>/ and returns the copy's path; each copy in its own directory. */
let copies = 0;
async function placePayload(dir: string, payload: string): Promise<string> {
  const sub = join(dir, String(copies++));
  await mkdir(sub, { recursive: true });
  const p = join(sub, basename(payload));
  await copyFile(fixture(payload), p);
  return p;
}

/** Records of a --json run keyed by path; asserts there is one per path. */
function byPath(stdout: string): Map<string, Record<string, unknown>> {
  const { records } = jsonOutput(stdout);
  const map = new Map(records.map((r) => [String(r.path), r]));
  assert.equal(map.size, records.length, 'duplicate paths in --json output');
  return map;
}

describe('golden values made by evmctl 1.4', () => {
  test('the manifest covers what issue 2 asks for', (t) => {
    const m = needManifest(t);
    if (!m) return;
    const have = new Set(
      sidecars(m)
        .filter((f) => f.valid)
        .map((f) => `${f.key}/${f.algo}`),
    );
    for (const want of ['rsa2048/sha256', 'rsa4096/sha512', 'p256/sha256', 'p384/sha384', 'rsa2048/sha1'])
      assert.ok(have.has(want), `no golden sidecar for ${want}`);
    const hashes = new Set(m.files.filter((f) => f.kind === 'hash').map((f) => f.algo));
    for (const want of ['sha1', 'sha256', 'sha512']) assert.ok(hashes.has(want), `no golden hash for ${want}`);
    for (const f of m.files)
      if (f.kind !== 'bundle') assert.ok(existsSync(fixture(f.file)), `${f.file} is in the manifest but not on disk`);
  });

  test("for every RSA sidecar, our `sign` output equals evmctl's byte for byte", async (t) => {
    const m = needManifest(t);
    if (!m) return;
    const dir = await tempDir(t);
    const rsa = sidecars(m).filter(
      (f) => f.valid && m.files.some((k) => k.kind === 'key' && k.key === f.key && k.key_type === 'rsa'),
    );
    assert.ok(rsa.length >= 5, `only ${rsa.length} RSA sidecars in the manifest`);
    // One run per (key, algo, keyid source), signing all its payloads at once.
    const groups = new Map<string, { args: string[]; entries: { e: ManifestEntry; copy: string }[] }>();
    for (const e of rsa) {
      const keyidArgs = e.cert ? ['--cert', fixture(e.cert)] : ['--keyid', e.keyid!];
      const args = ['--key', keyPath(m, e.key!), '-a', e.algo!, ...keyidArgs];
      const g = groups.get(args.join('\0')) ?? { args, entries: [] };
      g.entries.push({ e, copy: await placePayload(dir, e.payload!) });
      groups.set(args.join('\0'), g);
    }
    for (const { args, entries } of groups.values()) {
      const r = await runCli(['sign', '--json', ...args, ...entries.map((x) => x.copy)]);
      assert.equal(r.status, 0, show(r));
      for (const { e, copy } of entries) {
        const ours = await readFile(`${copy}.sig`);
        const golden = await readFile(fixture(e.file));
        assert.equal(ours.toString('hex'), golden.toString('hex'), `${e.file}: our sidecar differs from evmctl's`);
        assert.equal(ours.length, e.size);
      }
    }
  });

  for (const format of ['pem', 'der'] as const) {
    test(`every valid sidecar (RSA and ECDSA) verifies with us, certificates in ${format.toUpperCase()}`, async (t) => {
      const m = needManifest(t);
      if (!m) return;
      const dir = await tempDir(t);
      const certs = join(dir, 'certs');
      await mkdir(certs);
      const valid = sidecars(m).filter((f) => f.valid && f.cert);
      const expect = new Map<string, ManifestEntry>();
      for (const e of valid) {
        const cert = format === 'pem' ? e.cert! : e.cert_der!;
        await copyFile(fixture(cert), join(certs, basename(cert)));
        const copy = await placePayload(join(dir, 'files'), e.payload!);
        await copyFile(fixture(e.file), `${copy}.sig`);
        expect.set(copy, e);
      }
      const r = await runCli(['verify', '--json', '--from', 'sidecar', '--cert', certs, '-r', join(dir, 'files')]);
      assert.equal(r.status, 0, show(r));
      const got = byPath(r.stdout);
      assert.equal(got.size, expect.size);
      for (const [copy, e] of expect) {
        const rec = got.get(copy);
        assert.ok(rec, `no record for ${e.file}`);
        assert.equal(rec.status, 'ok', `${e.file}: ${JSON.stringify(rec)}`);
        assert.equal(rec.keyid, e.keyid);
        assert.equal(rec.hashAlgo, e.algo);
        assert.equal(rec.version, e.version);
        assert.equal(rec.value, (await readFile(fixture(e.file))).toString('hex'));
      }
    });
  }

  test('the invalid sidecars (Ed25519 garbage, DSA) fail with us, exit 1, without a crash', async (t) => {
    const m = needManifest(t);
    if (!m) return;
    const dir = await tempDir(t);
    const bad = sidecars(m).filter((f) => f.valid === false);
    assert.ok(bad.length >= 1);
    const certArgs: string[] = [];
    const copies: [string, ManifestEntry][] = [];
    for (const e of bad) {
      if (e.cert) certArgs.push('--cert', fixture(e.cert));
      const copy = await placePayload(dir, e.payload!);
      await copyFile(fixture(e.file), `${copy}.sig`);
      copies.push([copy, e]);
    }
    const r = await runCli(['verify', '--json', ...certArgs, ...copies.map(([c]) => c)]);
    assert.equal(r.status, 1, show(r));
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    const got = byPath(r.stdout);
    for (const [copy, e] of copies) {
      const rec = got.get(copy)!;
      assert.equal(rec.status, 'failed', `${e.file} (${e.negative}): ${JSON.stringify(rec)}`);
      assert.ok(String(rec.reason).length > 0);
    }
  });

  test('the reason for an Ed25519 or DSA sidecar names the unsupported key type, not an unknown keyid', async (t) => {
    const m = needManifest(t);
    if (!m) return;
    const dir = await tempDir(t);
    for (const e of sidecars(m).filter((f) => f.valid === false && f.cert)) {
      const copy = await placePayload(dir, e.payload!);
      await copyFile(fixture(e.file), `${copy}.sig`);
      const r = await runCli(['verify', '--json', '--cert', fixture(e.cert!), copy]);
      assert.equal(r.status, 1, show(r));
      const reason = String(byPath(r.stdout).get(copy)!.reason);
      assert.doesNotMatch(reason, /no certificate given has it/, `${e.file}: ${reason}`);
      assert.match(reason, new RegExp(`${e.key}|not supported|cannot verify`, 'i'), `${e.file}: ${reason}`);
    }
  });

  test(
    "evmctl's --keyid deadbeef sidecar: no certificate " + 'has that keyid, so it fails as an unknown keyid',
    async (t) => {
      const m = needManifest(t);
      if (!m) return;
      const e = sidecars(m).find((f) => f.keyid === 'deadbeef');
      if (!e) return t.skip('no deadbeef sidecar in the manifest');
      const dir = await tempDir(t);
      const copy = await placePayload(dir, e.payload!);
      await copyFile(fixture(e.file), `${copy}.sig`);
      const r = await runCli(['verify', '--json', '--cert', fixture('keys/rsa2048.crt.pem'), copy]);
      assert.equal(r.status, 1, show(r));
      assert.match(String(byPath(r.stdout).get(copy)!.reason), /unknown keyid deadbeef/);
    },
  );

  test('`hash` values equal evmctl ima_hash values (sha1, sha256, sha512) for every golden payload', async (t) => {
    const m = needManifest(t);
    if (!m) return;
    const dir = await tempDir(t);
    const hashes = m.files.filter((f) => f.kind === 'hash');
    const algos = [...new Set(hashes.map((h) => h.algo!))];
    const copiesOf = new Map<string, string>();
    for (const p of new Set(hashes.map((h) => h.payload!))) copiesOf.set(p, await placePayload(dir, p));
    const runs = await Promise.all(algos.map((a) => runCli(['hash', '--json', '-a', a, ...copiesOf.values()])));
    for (const [i, a] of algos.entries()) {
      const r = runs[i]!;
      assert.equal(r.status, 0, show(r));
      const got = byPath(r.stdout);
      for (const h of hashes.filter((x) => x.algo === a)) {
        const rec = got.get(copiesOf.get(h.payload!)!)!;
        const golden = await readFile(fixture(h.file));
        assert.equal(rec.value, golden.toString('hex'), `${h.file}`);
        assert.equal(rec.type, `0x0${h.type}`);
        assert.equal(rec.hashAlgo, h.algo);
      }
    }
    // People's output: VALUE, two spaces, PATH.
    const one = hashes.find((h) => h.algo === 'sha1')!;
    const p = await runCli(['hash', '-a', 'sha1', copiesOf.get(one.payload!)!]);
    assert.equal(p.stdout, `${(await readFile(fixture(one.file))).toString('hex')}  ${copiesOf.get(one.payload!)}\n`);
  });
});

// ---- live evmctl --------------------------------------------------------------------------------

interface Combo {
  key: string;
  algo: string;
}
const COMBOS: Combo[] = [
  { key: 'rsa2048', algo: 'sha256' },
  { key: 'rsa4096', algo: 'sha512' },
  { key: 'p256', algo: 'sha256' },
  { key: 'p384', algo: 'sha384' },
  { key: 'rsa2048', algo: 'sha1' },
];

function certOf(m: Manifest, key: string, format: 'pem' | 'der'): string {
  const e = m.files.find(
    (f) =>
      f.kind === 'cert' &&
      f.key === key &&
      f.format === format &&
      f.keyid &&
      f.keyid === f.key_hash_keyid &&
      basename(f.file).startsWith(`${key}.`),
  );
  assert.ok(e, `no ${format} certificate for ${key} in the manifest`);
  return fixture(e.file);
}

function isRsa(m: Manifest, key: string): boolean {
  return m.files.some((f) => f.kind === 'key' && f.key === key && f.key_type === 'rsa');
}

/** Fresh payloads: random bytes of a few sizes (one above the 1 MiB streaming chunk), and an empty file. */
async function freshPayloads(dir: string): Promise<string[]> {
  const sizes = [0, 1, 4096, 1024 * 1024 + 17];
  const out: string[] = [];
  for (const n of sizes) {
    const p = join(dir, `payload-${n}.bin`);
    await writeFile(p, randomBytes(n));
    out.push(p);
  }
  return out;
}

function evmctl(args: string[], cwd?: string): Promise<RunResult> {
  return run('evmctl', args, { cwd });
}

describe('live evmctl 1.4, both directions', () => {
  test(
    'our sidecars pass `evmctl ima_verify --sigfile --key CERT.der` (RSA-2048/sha256, ' +
      'RSA-4096/sha512, P-256/sha256, P-384/sha384, sha1); a changed file fails',
    async (t) => {
      const m = needManifest(t);
      if (!m || !needEvmctl(t)) return;
      const dir = await tempDir(t);
      for (const c of COMBOS) {
        const sub = join(dir, `${c.key}-${c.algo}`);
        await mkdir(sub);
        const files = await freshPayloads(sub);
        const s = await runCli([
          'sign',
          '--key',
          keyPath(m, c.key),
          '--cert',
          certOf(m, c.key, 'pem'),
          '-a',
          c.algo,
          ...files,
        ]);
        assert.equal(s.status, 0, show(s));
        const checks: RunResult[] = await Promise.all(
          files.map((f): Promise<RunResult> =>
            evmctl(['ima_verify', '--sigfile', '--key', certOf(m, c.key, 'der'), f]),
          ),
        );
        for (const [i, r] of checks.entries()) {
          assert.equal(
            r.status,
            0,
            `${c.key}/${c.algo} ${basename(files[i]!)}: evmctl refused our sidecar\n${show(r)}`,
          );
          assert.match(r.stderr, /verification is OK/);
        }
        // Sanity: evmctl does reject our sidecar once the file changes.
        await writeFile(files[2]!, randomBytes(4096));
        const bad = await evmctl(['ima_verify', '--sigfile', '--key', certOf(m, c.key, 'der'), files[2]!]);
        assert.notEqual(bad.status, 0, `${c.key}/${c.algo}: evmctl accepted a changed file\n${show(bad)}`);
      }
    },
  );

  test(
    "evmctl's sidecars pass our verify with PEM and DER " + 'certificates; for RSA they equal ours byte for byte',
    async (t) => {
      const m = needManifest(t);
      if (!m || !needEvmctl(t)) return;
      const dir = await tempDir(t);
      const pemCerts = join(dir, 'pem');
      const derCerts = join(dir, 'der');
      await mkdir(pemCerts);
      await mkdir(derCerts);
      const all: { combo: Combo; file: string }[] = [];
      for (const c of COMBOS) {
        await copyFile(certOf(m, c.key, 'pem'), join(pemCerts, `${c.key}.pem`));
        await copyFile(certOf(m, c.key, 'der'), join(derCerts, `${c.key}.der`));
        const sub = join(dir, 'files', `${c.key}-${c.algo}`);
        await mkdir(sub, { recursive: true });
        const files = await freshPayloads(sub);
        const signs: RunResult[] = await Promise.all(
          files.map((f): Promise<RunResult> =>
            evmctl(['ima_sign', '-n', '--sigfile', '--key', keyPath(m, c.key), '-a', c.algo, f]),
          ),
        );
        for (const [i, r] of signs.entries()) {
          assert.equal(r.status, 0, show(r));
          assert.ok(existsSync(`${files[i]}.sig`), `evmctl wrote no ${files[i]}.sig`);
          all.push({ combo: c, file: files[i]! });
        }
      }
      for (const certs of [pemCerts, derCerts]) {
        const r = await runCli(['verify', '--json', '--from', 'sidecar', '--cert', certs, '-r', join(dir, 'files')]);
        assert.equal(r.status, 0, `with ${basename(certs)} certificates: ${show(r)}`);
        const got = byPath(r.stdout);
        assert.equal(got.size, all.length);
        for (const { combo, file } of all)
          assert.equal(
            got.get(file)?.status,
            'ok',
            `${combo.key}/${combo.algo} ${basename(file)} with ${basename(certs)}: ${JSON.stringify(got.get(file))}`,
          );
      }
      // RSA: our own signature of the same file with the same key is the same bytes. evmctl 1.4 takes the
      // keyid from the key hash, which for these certificates (hash SKID) equals the SKID we use.
      for (const c of COMBOS.filter((x) => isRsa(m, x.key))) {
        const files = all.filter((x) => x.combo === c).map((x) => x.file);
        const s = await runCli([
          'sign',
          '--suffix',
          '.ours',
          '--key',
          keyPath(m, c.key),
          '--cert',
          certOf(m, c.key, 'pem'),
          '-a',
          c.algo,
          ...files,
        ]);
        assert.equal(s.status, 0, show(s));
        for (const f of files) {
          assert.equal(
            (await readFile(`${f}.ours`)).toString('hex'),
            (await readFile(`${f}.sig`)).toString('hex'),
            `${c.key}/${c.algo} ${basename(f)}`,
          );
        }
      }
    },
  );

  test('`hash` equals `evmctl ima_hash` (stdout and user.ima) for sha1, sha256 and sha512', async (t) => {
    if (!needEvmctl(t)) return;
    const dir = await tempDir(t);
    const files = await freshPayloads(dir);
    const xattrs = haveCommand('getfattr');
    for (const algo of ['sha1', 'sha256', 'sha512']) {
      const ours = await runCli(['hash', '--json', '-a', algo, ...files]);
      assert.equal(ours.status, 0, show(ours));
      const got = byPath(ours.stdout);
      for (const f of files) {
        const e = await evmctl(['ima_hash', '-a', algo, '--xattr-user', f]);
        assert.equal(e.status, 0, show(e));
        // evmctl prints the whole value as hex on stdout.
        assert.equal(got.get(f)?.value, e.stdout.trim(), `${algo} ${basename(f)}`);
        if (xattrs) {
          const x = await run('getfattr', ['--absolute-names', '--only-values', '-n', 'user.ima', f]);
          if (x.status === 0)
            assert.equal(x.stdoutBytes.toString('hex'), got.get(f)?.value, `${algo} ${basename(f)} (user.ima)`);
        }
      }
    }
  });

  test('the user.ima digest `evmctl ima_hash --xattr-user` writes passes our verify --from xattr', async (t) => {
    const m = needManifest(t);
    if (!m || !needEvmctl(t)) return;
    const dir = await tempDir(t);
    const files = await freshPayloads(dir);
    for (const [i, f] of files.entries()) {
      const e = await evmctl(['ima_hash', '-a', ['sha1', 'sha256', 'sha512', 'sha256'][i]!, '--xattr-user', f]);
      assert.equal(e.status, 0, show(e));
    }
    // evmctl 1.4's ima_verify checks signatures only ("xattr ima has no signature" for a digest), so the
    // digest direction is checked by us alone. A certificate is given only because verify insists on one.
    const r = await runCli([
      'verify',
      '--json',
      '--from',
      'xattr',
      '--xattr',
      'user.ima',
      '--cert',
      certOf(m, 'rsa2048', 'pem'),
      ...files,
    ]);
    if (r.status !== 0 && /does not support extended attributes|EOPNOTSUPP|ENOTSUP/.test(r.stdout + r.stderr))
      return skipOrFail(t, 'no user xattrs here');
    assert.equal(r.status, 0, show(r));
    const got = byPath(r.stdout);
    assert.deepEqual(
      files.map((f) => got.get(f)?.hashAlgo),
      ['sha1', 'sha256', 'sha512', 'sha256'],
    );
    assert.deepEqual(
      files.map((f) => got.get(f)?.type),
      ['0x01', '0x04', '0x04', '0x04'],
    );
  });

  test(
    'a certificate whose SKID is not the key hash: we sign with the ' +
      'SKID keyid (what the kernel looks up); evmctl 1.4 cannot match it',
    async (t) => {
      const m = needManifest(t);
      if (!m || !needEvmctl(t)) return;
      const v = await evmctl(['--version']);
      if (!/evmctl 1\.4\b/.test(v.stdout + v.stderr))
        return t.skip(`this documents evmctl 1.4; found ${(v.stdout + v.stderr).trim()}`);
      const cert = m.files.find(
        (f) => f.kind === 'cert' && f.format === 'pem' && f.keyid && f.key_hash_keyid && f.keyid !== f.key_hash_keyid,
      );
      if (!cert) return t.skip('no certificate with a non-hash SKID in the manifest');
      const der = m.files.find(
        (f) => f.kind === 'cert' && f.format === 'der' && f.key === cert.key && f.skid === cert.skid,
      )!;
      const dir = await tempDir(t);
      const [, file] = await freshPayloads(dir);
      const s = await runCli(['sign', '--json', '--key', keyPath(m, cert.key!), '--cert', fixture(cert.file), file!]);
      assert.equal(s.status, 0, show(s));
      assert.equal(jsonOutput(s.stdout).records[0]!.keyid, cert.keyid);
      const ours = await runCli(['verify', '--cert', fixture(cert.file), file!]);
      assert.equal(ours.status, 0, show(ours));
      const theirs = await evmctl(['ima_verify', '--sigfile', '--key', fixture(der.file), file!]);
      assert.equal(theirs.status, 1, show(theirs));
      assert.match(theirs.stderr, /unknown keyid/);
    },
  );
});
