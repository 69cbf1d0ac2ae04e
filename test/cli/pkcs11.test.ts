// Keys on a PKCS#11 token (SoftHSM2 in a temporary directory), through the real command line and, for
// injected token failures, the library:
//  - RSA sidecars byte-identical to `evmctl ima_sign --engine pkcs11 --key pkcs11:...` with the same token key
//    (generated on the token, and imported), and to our own signature with the imported key's PEM file;
//  - ECDSA P-256 sidecars verified by `evmctl ima_verify` and by us;
//  - the keyid from --cert, --keyid, or the certificate object with the key's CKA_ID;
//  - `modsig sign` with a token key byte-identical to sign-file with the imported key's PEM file;
//  - a tree signed on the token; the PIN from pin-source and IMA_SIDECAR_PKCS11_PIN; the module from
//    module-path, module-name, PKCS11_MODULE_PATH and p11-kit's proxy;
//  - every failure the issue names: exit 2, one line naming the URI without the PIN, nothing written;
//  - a token failing in the middle of a tree: the remaining files fail, each reported, no sidecar for them.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashAlgoByName } from '../../src/codec/hash-algo.js';
import { defaultBinding, Pkcs11Api, Pkcs11Binding } from '../../src/crypto/pkcs11-module.js';
import { resolveSigner } from '../../src/crypto/signer.js';
import { rawToDer } from '../../src/crypto/token-key.js';
import { ConfigError } from '../../src/errors.js';
import { signTree } from '../../src/ops/sign.js';
import { jsonOutput, removeTempDir, run, runCli, type RunResult, show, tempDir } from '../helpers/cli.js';
import { skipOrFail } from '../helpers/skip.js';
import { makeSoftToken, PIN, SOFTHSM_MODULE, softhsmConf, softhsmMissing, type SoftToken } from '../helpers/softhsm.js';

const SIGN_FILE = '/usr/lib/linux-kbuild-6.1/scripts/sign-file';

let tok: SoftToken | undefined;
let why: string | undefined;

before(async () => {
  why = softhsmMissing();
  if (!why) tok = await makeSoftToken();
});

after(async () => {
  if (tok) await removeTempDir(tok.dir);
});

function need(t: TestContext): SoftToken | undefined {
  if (!tok) skipOrFail(t, why ?? 'no token');
  return tok;
}

/** A fresh directory holding `n` small files; returns it and their paths. */
async function files(t: TestContext, n: number, prefix = 'f'): Promise<{ dir: string; paths: string[] }> {
  const dir = await tempDir(t);
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = join(dir, `${prefix}${i}.bin`);
    await writeFile(p, `content of file ${i}\n`.repeat(i + 1));
    paths.push(p);
  }
  return { dir, paths };
}

const cli = (k: SoftToken, args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> =>
  runCli(args, { env: { ...k.env, ...env }, timeoutMs: 60_000 });

/** evmctl ima_sign through OpenSSL's pkcs11 engine; returns the sidecar's bytes. */
async function evmctlTokenSign(
  k: SoftToken,
  uri: string,
  certDer: string,
  algo: string,
  path: string,
): Promise<Buffer> {
  const r = await run(
    'evmctl',
    [
      'ima_sign',
      '--engine',
      'pkcs11',
      '--key',
      `${uri}?pin-value=${PIN}`,
      '--keyid-from-cert',
      certDer,
      '--sigfile',
    ].concat(['-a', algo, path]),
    { env: k.env, timeoutMs: 60_000 },
  );
  assert.equal(r.status, 0, show(r));
  return readFile(`${path}.sig`);
}

describe('signing with a key on the token', () => {
  for (const [name, which] of [
    ['generated on the token', 'rsaGen'],
    ['imported into the token', 'imported'],
  ] as const) {
    test(`RSA ${name}: sidecars byte-identical to evmctl --engine pkcs11 (sha1, sha256, sha512)`, async (t) => {
      const k = need(t);
      if (!k) return;
      for (const algo of ['sha1', 'sha256', 'sha512']) {
        const { paths } = await files(t, 2, `${algo}-`);
        const r = await cli(k, ['sign', '-a', algo, '--key', k.full[which], '--cert', k.certs[which].pem, ...paths]);
        assert.equal(r.status, 0, show(r));
        assert.doesNotMatch(r.stderr, /warning/, show(r));
        for (const p of paths) {
          const ours = await readFile(`${p}.sig`);
          const copy = `${p}.evmctl`;
          await copyFile(p, copy);
          const theirs = await evmctlTokenSign(k, k.uri[which], k.certs[which].der, algo, copy);
          assert.equal(ours.toString('hex'), theirs.toString('hex'), `${p} ${algo}: differs from evmctl`);
        }
      }
    });
  }

  test('the imported key signs as its PEM file does, byte for byte', async (t) => {
    const k = need(t);
    if (!k) return;
    const { paths } = await files(t, 3);
    const onToken = await cli(k, [
      'sign',
      '--json',
      '--key',
      k.full.imported,
      '--cert',
      k.certs.imported.pem,
      ...paths,
    ]);
    assert.equal(onToken.status, 0, show(onToken));
    const fromToken = await Promise.all(paths.map((p) => readFile(`${p}.sig`)));
    const r = await cli(k, ['sign', '--key', k.importedPem, '--cert', k.certs.imported.pem, ...paths]);
    assert.equal(r.status, 0, show(r));
    for (const [i, p] of paths.entries()) assert.ok(fromToken[i]!.equals(await readFile(`${p}.sig`)), p);
  });

  test('ECDSA P-256: verified by evmctl ima_verify and by us; the keyid from the certificate object', async (t) => {
    const k = need(t);
    if (!k) return;
    const { paths } = await files(t, 3);
    // No --cert: the certificate with the key's CKA_ID on the token gives the keyid, and no warning.
    const r = await cli(k, ['sign', '--json', '--key', k.full.p256, ...paths]);
    assert.equal(r.status, 0, show(r));
    assert.equal(r.stderr, '', show(r));
    const skid = await run('openssl', ['x509', '-in', k.certs.p256.pem, '-noout', '-ext', 'subjectKeyIdentifier']);
    const keyid = skid.stdout.split('\n')[1]!.trim().replace(/:/g, '').toLowerCase().slice(-8);
    for (const rec of jsonOutput(r.stdout).records) assert.equal(rec.keyid, keyid);
    for (const p of paths) {
      const v = await run('evmctl', ['ima_verify', '--key', k.certs.p256.der, '--sigfile', p]);
      assert.equal(v.status, 0, show(v));
    }
    const ours = await runCli(['verify', '--from', 'sidecar', '-c', k.certs.p256.pem, ...paths]);
    assert.equal(ours.status, 0, show(ours));
  });

  test('keyid: --keyid wins; without any certificate it is computed, with the warning', async (t) => {
    const k = need(t);
    if (!k) return;
    const { paths } = await files(t, 1);
    const given = await cli(k, ['sign', '--json', '--key', k.full.imported, '--keyid', 'deadbeef', ...paths]);
    assert.equal(given.status, 0, show(given));
    assert.equal(jsonOutput(given.stdout).records[0]!.keyid, 'deadbeef');
    const computed = await cli(k, ['sign', '--key', k.full.rsaGen, ...paths]);
    assert.equal(computed.status, 0, show(computed));
    assert.match(
      computed.stderr,
      /^warning: pkcs11:token=ima%20test;object=rsa-gen;id=%01;type=private: no --cert given/,
    );
  });

  test('a tree signed on the token, every sidecar verified', async (t) => {
    const k = need(t);
    if (!k) return;
    const { dir } = await files(t, 40);
    await mkdir(join(dir, 'sub'));
    for (let i = 0; i < 10; i++) await writeFile(join(dir, 'sub', `s${i}`), `sub ${i}`);
    const r = await cli(k, ['sign', '-r', '--json', '-j', '16', '--key', k.full.imported, dir]);
    assert.equal(r.status, 0, show(r));
    assert.equal(jsonOutput(r.stdout).summary.total, 50);
    const v = await runCli(['verify', '-r', '--json', '-c', k.certs.imported.pem, dir]);
    assert.equal(v.status, 0, show(v));
    assert.equal(jsonOutput(v.stdout).summary.failed, 0);
  });

  test('modsig sign on the token: as sign-file with the PEM key; the certificate from the token', async (t) => {
    const k = need(t);
    if (!k) return;
    if (!existsSync(SIGN_FILE)) return skipOrFail(t, `needs ${SIGN_FILE} (package linux-kbuild-6.1)`);
    const { paths } = await files(t, 1);
    const input = paths[0]!;
    for (const certArgs of [['--cert', k.certs.imported.pem], []]) {
      const ours = `${input}.${certArgs.length ? 'cert' : 'token'}.ko`;
      const r = await cli(k, ['modsig', 'sign', '--key', k.full.imported, ...certArgs, '-o', ours, input]);
      assert.equal(r.status, 0, show(r));
      const theirs = `${input}.sign-file.ko`;
      const s = await run(SIGN_FILE, ['sha256', k.importedPem, k.certs.imported.pem, input, theirs]);
      assert.equal(s.status, 0, show(s));
      assert.ok((await readFile(ours)).equals(await readFile(theirs)), `${ours} differs from sign-file's`);
    }
  });
});

describe('where the PIN and the module come from', () => {
  test('pin-source, IMA_SIDECAR_PKCS11_PIN, module-name, PKCS11_MODULE_PATH and the p11-kit proxy', async (t) => {
    const k = need(t);
    if (!k) return;
    const pinFile = join(k.dir, 'pin');
    await writeFile(pinFile, `${PIN}\n`);
    const m = `module-path=${SOFTHSM_MODULE}`;
    const cases: [string, Record<string, string | undefined>][] = [
      [`${k.uri.imported}?pin-source=file:${pinFile}&${m}`, {}],
      [`${k.uri.imported}?pin-source=${pinFile}&${m}`, {}],
      [`${k.uri.imported}?${m}`, { IMA_SIDECAR_PKCS11_PIN: PIN }],
      // The URI's PIN wins over the environment's (which would be wrong).
      [`${k.uri.imported}?pin-value=${PIN}&${m}`, { IMA_SIDECAR_PKCS11_PIN: '0000' }],
      [`${k.uri.imported}?pin-value=${PIN}&module-name=softhsm2`, {}],
      [`${k.uri.imported}?pin-value=${PIN}`, { PKCS11_MODULE_PATH: SOFTHSM_MODULE }],
      // Neither: p11-kit's proxy, through which every registered module (SoftHSM's too) is found.
      [`${k.uri.imported}?pin-value=${PIN}`, {}],
    ];
    for (const [uri, env] of cases) {
      const { paths } = await files(t, 1);
      const r = await cli(k, ['sign', '--key', uri, '--cert', k.certs.imported.pem, ...paths], env);
      assert.equal(r.status, 0, `${uri} ${JSON.stringify(env)}: ${show(r)}`);
      assert.ok(existsSync(`${paths[0]}.sig`));
    }
  });
});

describe('failures: exit 2, one line naming the URI without the PIN, nothing written', () => {
  test('wrong PIN, no PIN, no such token, no such object, a module that cannot be loaded, a bad URI', async (t) => {
    const k = need(t);
    if (!k) return;
    const m = `module-path=${SOFTHSM_MODULE}`;
    const badPin = '98765';
    const cases: [string, RegExp, Record<string, string>?][] = [
      [`${k.uri.imported}?pin-value=${badPin}&${m}`, /: wrong PIN \(CKR_PIN_INCORRECT\); not retried$/],
      [
        `${k.uri.imported}?${m}`,
        /: the token needs a PIN: give pin-value or pin-source in the URI, or set IMA_SIDECAR_PKCS11_PIN$/,
      ],
      [`pkcs11:token=nosuch;object=imported?pin-value=${badPin}&${m}`, /: no such token \(tokens present: "ima test"/],
      [
        `pkcs11:token=ima%20test;object=nosuch?pin-value=${PIN}&${m}`,
        /: no such object: no private key on the token matches$/,
      ],
      [`pkcs11:token=ima%20test;id=%09?pin-value=${PIN}&${m}`, /: no such object/],
      [
        `${k.uri.imported}?pin-value=${badPin}&module-path=/nonexistent/lib.so`,
        /cannot load the PKCS#11 module \/nonexistent\/lib\.so: no such file$/,
      ],
      [
        `${k.uri.imported}?pin-value=${badPin}&module-path=/etc/hostname`,
        /cannot load the PKCS#11 module \/etc\/hostname: /,
      ],
      [`${k.uri.imported}?pin-value=${badPin}&module-name=nosuchmodule`, /no PKCS#11 module named nosuchmodule/],
      [`${k.uri.imported}?pin-source=/nonexistent/pin&${m}`, /cannot read pin-source \/nonexistent\/pin: no such file/],
      [`pkcs11:token=ima%20test;object=imported;type=cert?pin-value=${badPin}`, /type=cert names no private key/],
      [`pkcs11:token=ima%20test;objekt=imported?pin-value=${badPin}`, /unknown path attribute "objekt"/],
      [
        `pkcs11:token=ima%20test;type=private?pin-value=${PIN}&${m}`,
        /: 3 private keys match; name one with object= or id=$/,
      ],
    ];
    for (const [uri, reason, env] of cases) {
      for (const cmd of [['sign'], ['modsig', 'sign', '--cert', k.certs.imported.pem]] as string[][]) {
        const { dir, paths } = await files(t, 2);
        const r = await cli(k, [...cmd, '--key', uri, ...paths], env);
        const what: string = `${cmd.join(' ')} ${uri}: ${show(r)}`;
        assert.equal(r.status, 2, what);
        const lines = r.stderr.split('\n').filter(Boolean);
        assert.equal(lines.length, 1, what);
        assert.match(lines[0]!, reason, what);
        assert.ok(lines[0]!.startsWith('ima-sidecar: pkcs11:'), what);
        assert.ok(!r.stderr.includes(`pin-value=${badPin}`) && !r.stderr.includes(badPin), `PIN printed: ${what}`);
        assert.ok(!r.stderr.includes(`pin-value=${PIN}`), `PIN printed: ${what}`);
        assert.deepEqual(readdirSync(dir).sort(), ['f0.bin', 'f1.bin'], `written: ${what}`);
        for (const p of paths) assert.equal((await readFile(p, 'utf8')).startsWith('content of file'), true);
      }
    }
  });

  test('a mechanism the token lacks (slots.mechanisms), for RSA and for ECDSA', async (t) => {
    const k = need(t);
    if (!k) return;
    const tokens = join(k.dir, 'tokens');
    // SoftHSM 2.6.1 ignores a "-CKM_..." list: the token is given only the other mechanism.
    for (const [uri, mechanism, other] of [
      [k.full.imported, 'CKM_RSA_PKCS', 'CKM_ECDSA'],
      [k.full.p256, 'CKM_ECDSA', 'CKM_RSA_PKCS'],
    ] as const) {
      const conf = await softhsmConf(k.dir, `no-${mechanism}.conf`, tokens, other);
      const { dir, paths } = await files(t, 1);
      const r = await runCli(['sign', '--key', uri, ...paths], { env: { SOFTHSM2_CONF: conf } });
      assert.equal(r.status, 2, show(r));
      assert.match(r.stderr, new RegExp(`^ima-sidecar: pkcs11:[^ ]*: the token cannot sign with ${mechanism}\\n$`));
      assert.ok(!r.stderr.includes(PIN));
      assert.deepEqual(readdirSync(dir), ['f0.bin']);
    }
  });
});

/** The real pkcs11js with some calls replaced: a token that fails where the test says. */
function wrapped(change: (api: Pkcs11Api) => Partial<Pkcs11Api>): Pkcs11Binding {
  return async () => {
    const api = await defaultBinding();
    const over = change(api);
    return new Proxy(api, {
      get: (target, prop) => {
        const o = (over as Record<string | symbol, unknown>)[prop];
        if (o) return o;
        const v = (target as unknown as Record<string | symbol, unknown>)[prop];
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  };
}

function pkcs11Error(code: string): Error {
  return Object.assign(new Error(code), { code: 0 });
}

describe('token failures the library sees', () => {
  test('a token removed in the middle of a tree: the remaining files each fail, and get no sidecar', async (t) => {
    const k = need(t);
    if (!k) return;
    process.env.SOFTHSM2_CONF = k.conf;
    let signs = 0;
    // The probe, then ten files; after that the token is gone.
    const binding = wrapped((api) => ({
      C_SignAsync: (s: Buffer, d: Buffer, o: Buffer) =>
        ++signs > 11 ? Promise.reject(pkcs11Error('CKR_DEVICE_REMOVED')) : api.C_SignAsync(s, d, o),
    }));
    const signer = await resolveSigner(
      { keyPath: k.full.imported, certPath: k.certs.imported.pem, pkcs11: binding },
      () => {},
    );
    const { dir } = await files(t, 30);
    const results = [];
    for await (const r of signTree(
      [dir],
      { select: { recursive: true, suffix: '.sig' }, jobs: 4 },
      {
        key: signer.key,
        keyid: signer.keyid,
        hashAlgo: hashAlgoByName('sha256')!,
        xattrName: 'user.ima',
        suffix: '.sig',
      },
    ))
      results.push(r);
    assert.equal(results.length, 30);
    const signed = results.filter((r) => r.status === 'signed');
    const failed = results.filter((r) => r.failed);
    assert.equal(signed.length, 10);
    assert.equal(failed.length, 20);
    for (const r of failed) {
      assert.match(r.reason!, /^pkcs11:token=ima%20test;object=imported;type=private\?module-path=[^ ]*: not signed: /);
      assert.match(r.reason!, /the token was removed \(CKR_DEVICE_REMOVED\)/);
      assert.ok(!r.reason!.includes(PIN));
      assert.ok(!existsSync(`${r.path}.sig`), `${r.path}.sig written`);
    }
    for (const r of signed) assert.ok(existsSync(`${r.path}.sig`));
    // Nothing half-written: no temporaries beside the files.
    assert.deepEqual(
      readdirSync(dir).filter((n) => !/^f\d+\.bin(\.sig)?$/.test(n)),
      [],
    );
  });

  test('a locked or expired PIN, and a token error at login, stop before anything is signed', async (t) => {
    const k = need(t);
    if (!k) return;
    process.env.SOFTHSM2_CONF = k.conf;
    const CKF_USER_PIN_LOCKED = 0x40000;
    const CKF_USER_PIN_TO_BE_CHANGED = 0x80000;
    const cases: [Pkcs11Binding, RegExp][] = [
      [
        wrapped((api) => ({
          C_GetTokenInfo: (s: Buffer) => ({
            ...api.C_GetTokenInfo(s),
            flags: api.C_GetTokenInfo(s).flags | CKF_USER_PIN_LOCKED,
          }),
        })),
        /: the PIN is locked \(CKR_PIN_LOCKED\)/,
      ],
      [
        wrapped((api) => ({
          C_GetTokenInfo: (s: Buffer) => ({
            ...api.C_GetTokenInfo(s),
            flags: api.C_GetTokenInfo(s).flags | CKF_USER_PIN_TO_BE_CHANGED,
          }),
        })),
        /: the PIN has expired \(CKR_PIN_EXPIRED\)/,
      ],
      [
        wrapped(() => ({
          C_Login: () => {
            throw pkcs11Error('CKR_PIN_LOCKED');
          },
        })),
        /: the PIN is locked/,
      ],
      [
        wrapped(() => ({
          C_Login: () => {
            throw pkcs11Error('CKR_PIN_EXPIRED');
          },
        })),
        /: the PIN has expired/,
      ],
      [
        wrapped(() => ({ C_SignAsync: () => Promise.reject(pkcs11Error('CKR_MECHANISM_INVALID')) })),
        /: not signed: the token cannot sign with this mechanism \(CKR_MECHANISM_INVALID\)/,
      ],
      [
        wrapped(() => ({ C_SignAsync: () => Promise.resolve(Buffer.alloc(256, 1)) })),
        /: the token's signature does not verify with the key's public key/,
      ],
      [
        async () => {
          throw new Error("Cannot find module 'pkcs11js'");
        },
        /: PKCS#11 keys need the pkcs11js package, which cannot be loaded \(Cannot find module 'pkcs11js'\)/,
      ],
    ];
    for (const [binding, reason] of cases) {
      let calls = 0;
      await assert.rejects(
        resolveSigner({ keyPath: k.full.imported, pkcs11: binding }, () => calls++),
        (e: unknown) =>
          e instanceof ConfigError &&
          reason.test(e.message) &&
          e.message.startsWith('pkcs11:token=ima%20test;object=imported;type=private?module-path=') &&
          !e.message.includes(PIN) &&
          !e.message.includes('\n'),
      );
    }
  });

  test("CKM_ECDSA's r||s becomes DER as X9.62 writes it", () => {
    const r = Buffer.concat([Buffer.of(0x80), Buffer.alloc(31, 1)]);
    const s = Buffer.concat([Buffer.alloc(2), Buffer.of(0x7f), Buffer.alloc(29, 2)]);
    const der = rawToDer(Buffer.concat([r, s]));
    assert.equal(der[0], 0x30);
    assert.deepEqual([...der.subarray(2, 5)], [0x02, 33, 0x00]);
    assert.equal(der[2 + 2 + 33], 0x02);
    assert.equal(der[2 + 2 + 33 + 1], 30);
    assert.equal(der[1], der.length - 2);
  });
});
