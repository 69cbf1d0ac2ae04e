// Every key the kernel's asymmetric keys load, with each hash the kernel pairs with it, against evmctl 1.4 in
// both directions and against openssl: RSA 1024/2048/3072/4096 and ECDSA P-192/P-256/P-384/P-521, keys and
// self-signed certificates (with SKID) made here with openssl.
//  - `evmctl ima_sign -a ALGO --key K` makes a sidecar; `ima-sidecar verify` accepts it;
//  - `ima-sidecar sign` makes one; `evmctl ima_verify --key CERT.der` accepts it, and so does
//    `openssl dgst -ALGO -verify` of the raw signature; for RSA the two sidecars are byte-identical;
//  - RSA below 2048 bits and P-192 sign with a warning naming the weakness;
//  - what the kernel cannot verify is refused with one line (RSA with sm3 or streebog, ECDSA with rmd160 or sm3,
//    md5), and `hash` writes md5 and sha1 as 0x01, rmd160 and sm3 as 0x04 (as evmctl ima_hash), md4 refused.
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonOutput, run, runCli, show, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

interface Key {
  readonly name: string;
  readonly rsa: boolean;
  readonly genArgs: string[];
  readonly hashes: string[];
  readonly weak?: RegExp;
}

const RSA_HASHES = ['sha1', 'rmd160', 'sha224', 'sha256', 'sha384', 'sha512'];
const EC_HASHES = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'];
const rsa = (bits: number): Key => ({
  name: `rsa${bits}`,
  rsa: true,
  genArgs: ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`],
  hashes: RSA_HASHES,
  weak: bits < 2048 ? new RegExp(`RSA-${bits} is weak`) : undefined,
});
const ec = (name: string, curve: string): Key => ({
  name,
  rsa: false,
  genArgs: ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`],
  hashes: EC_HASHES,
  weak: name === 'p192' ? /P-192 is weak/ : undefined,
});
const KEYS = [
  rsa(1024),
  rsa(2048),
  rsa(3072),
  rsa(4096),
  ec('p192', 'prime192v1'),
  ec('p256', 'prime256v1'),
  ec('p384', 'secp384r1'),
  ec('p521', 'secp521r1'),
];
/** openssl dgst's names, where they differ from the kernel's. */
const OPENSSL_NAMES: Record<string, string> = { rmd160: 'ripemd160' };

let dir: string;
let why: string | undefined;
const made = new Map<string, Promise<{ key: string; pub: string; pem: string; der: string }>>();

before(async () => {
  for (const c of ['openssl', 'evmctl']) if (!haveCommand(c)) why = `needs the command ${c}`;
  dir = await tempDir(undefined, 'ima-sidecar-algos-');
});

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 120_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${show(r)}`);
  return r.stdout;
}

/** The key, its public key and a self-signed certificate with a SKID (PEM and DER), made once. */
function material(k: Key): Promise<{ key: string; pub: string; pem: string; der: string }> {
  let p = made.get(k.name);
  if (!p) {
    p = (async () => {
      const key = join(dir, `${k.name}.key.pem`);
      const pub = join(dir, `${k.name}.pub.pem`);
      const pem = join(dir, `${k.name}.crt`);
      const der = join(dir, `${k.name}.crt.der`);
      await must('openssl', ['genpkey', ...k.genArgs, '-out', key]);
      await must('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
      await must(
        'openssl',
        ['req', '-new', '-x509', '-key', key, '-subj', `/CN=${k.name}`, '-days', '30'].concat([
          '-addext',
          'subjectKeyIdentifier=hash',
          '-out',
          pem,
        ]),
      );
      await must('openssl', ['x509', '-in', pem, '-outform', 'DER', '-out', der]);
      return { key, pub, pem, der };
    })();
    made.set(k.name, p);
  }
  return p;
}

function skip(t: TestContext): boolean {
  if (why) skipOrFail(t, why);
  return why !== undefined;
}

describe('each key the kernel loads, with each hash it pairs with it', { concurrency: 4 }, () => {
  for (const k of KEYS) {
    test(`${k.name}: ${k.hashes.join(', ')} both ways with evmctl, and with openssl`, async (t) => {
      if (skip(t)) return;
      const m = await material(k);
      const work = join(dir, k.name);
      await mkdir(work);
      const payload = join(work, 'payload.bin');
      await writeFile(payload, createHash('sha512').update(k.name).digest().toString('hex').repeat(50));
      const evmctlMade: string[] = [];
      for (const algo of k.hashes) {
        // evmctl signs; we verify below, all at once.
        const theirs = join(work, `evmctl-${algo}.bin`);
        await copyFile(payload, theirs);
        await must('evmctl', ['ima_sign', '-a', algo, '--key', m.key, '--sigfile', theirs]);
        evmctlMade.push(theirs);
        // We sign; evmctl and openssl verify.
        const ours = join(work, `ours-${algo}.bin`);
        await copyFile(payload, ours);
        const r = await runCli(['sign', '-a', algo, '--key', m.key, '--cert', m.pem, ours]);
        assert.equal(r.status, 0, `${algo}: ${show(r)}`);
        if (k.weak) assert.match(r.stderr, k.weak, show(r));
        else assert.equal(r.stderr, '', show(r));
        const v = await run('evmctl', ['ima_verify', '--key', m.der, '--sigfile', ours]);
        assert.equal(v.status, 0, `evmctl ima_verify ${k.name} ${algo}: ${show(v)}`);
        const sidecar = await readFile(`${ours}.sig`);
        const raw = join(work, `ours-${algo}.raw`);
        await writeFile(raw, sidecar.subarray(9));
        const o = await run('openssl', [
          'dgst',
          `-${OPENSSL_NAMES[algo] ?? algo}`,
          '-verify',
          m.pub,
          '-signature',
          raw,
          ours,
        ]);
        assert.equal(o.status, 0, `openssl dgst ${k.name} ${algo}: ${show(o)}`);
        assert.match(o.stdout, /Verified OK/);
        // RSA is deterministic: the same bytes as evmctl's.
        if (k.rsa) assert.ok(sidecar.equals(await readFile(`${theirs}.sig`)), `${k.name} ${algo}: differs from evmctl`);
      }
      const ver = await runCli(['verify', '--json', '--from', 'sidecar', '-c', m.der, ...evmctlMade]);
      assert.equal(ver.status, 0, show(ver));
      const { records, summary } = jsonOutput(ver.stdout);
      assert.equal(summary.failed, 0, show(ver));
      assert.deepEqual(
        records.map((r) => r.status),
        k.hashes.map(() => 'ok'),
      );
    });
  }
});

describe('what the kernel cannot verify is refused with one line, and nothing is written', () => {
  test('RSA with sm3 or streebog, ECDSA with rmd160 or sm3, md5 for all', async (t) => {
    if (skip(t)) return;
    const r2048 = await material(KEYS[1]!);
    const p256 = await material(KEYS[5]!);
    const work = join(dir, 'refusals');
    await mkdir(work);
    const f = join(work, 'f.bin');
    await writeFile(f, 'x');
    const cases: [string, string, RegExp][] = [
      [
        r2048.key,
        'sm3',
        new RegExp(
          '^ima-sidecar: RSA signatures with sm3 cannot be verified by the kernel: ' +
            'its PKCS#1 DigestInfo table has no sm3$',
        ),
      ],
      [r2048.key, 'streebog256', /RSA signatures with streebog256 cannot be verified by the kernel/],
      [r2048.key, 'streebog512', /RSA signatures with streebog512 cannot be verified by the kernel/],
      [p256.key, 'rmd160', /^ima-sidecar: ECDSA signatures with rmd160 cannot be verified by the kernel/],
      [p256.key, 'sm3', /ECDSA signatures with sm3 cannot be verified by the kernel/],
      [r2048.key, 'md5', /md5 is too weak to sign with/],
      [p256.key, 'md5', /md5 is too weak to sign with/],
    ];
    for (const [key, algo, reason] of cases) {
      const r = await runCli(['sign', '-a', algo, '--key', key, '--cert', key === r2048.key ? r2048.pem : p256.pem, f]);
      assert.equal(r.status, 2, show(r));
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, show(r));
      assert.match(lines[0]!, reason, show(r));
    }
    assert.deepEqual(readdirSync(work), ['f.bin']);
  });

  test('hash: md5 and sha1 as 0x01, rmd160 and sm3 as 0x04 (as evmctl ima_hash), md4 refused', async (t) => {
    if (skip(t)) return;
    const work = join(dir, 'hash');
    await mkdir(work);
    const f = join(work, 'f.bin');
    await writeFile(f, 'some content\n');
    for (const algo of ['md5', 'sha1', 'rmd160', 'sm3', 'sha224', 'sha256']) {
      const ours = await runCli(['hash', '-a', algo, f]);
      assert.equal(ours.status, 0, show(ours));
      const theirs = await run('evmctl', ['ima_hash', '-n', '-a', algo, f]);
      assert.equal(theirs.status, 0, show(theirs));
      const value = /([0-9a-f]{30,})/.exec(theirs.stdout)![1]!;
      assert.equal(ours.stdout.split(' ')[0], value, algo);
      assert.equal(value.slice(0, 2), algo === 'md5' || algo === 'sha1' ? '01' : '04', algo);
    }
    const md4 = await runCli(['hash', '-a', 'md4', f]);
    assert.equal(md4.status, 2, show(md4));
    assert.equal(
      md4.stderr,
      'ima-sidecar: hash algorithm md4 cannot be written: ' +
        'evmctl puts it in the 0x01 form, which the kernel reads as md5\n',
    );
  });
});
