// A SoftHSM2 token for tests, in a temporary directory (SOFTHSM2_CONF points there): an RSA-2048 key generated
// on the token (id 01), an EC P-256 key generated on it (id 02, its certificate on the token too), and an
// RSA-2048 key made with openssl and imported (id 03, with its public key and certificate), whose PEM file
// stays beside the token for comparisons. Certificates of token keys are made through OpenSSL's pkcs11 engine.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, tempDir } from './cli.js';
import { haveCommand } from './skip.js';

export const SOFTHSM_MODULE = '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so';
export const ENGINE = '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so';
export const PIN = '1234';
const SO_PIN = '5678';

export interface SoftToken {
  readonly dir: string;
  readonly conf: string;
  /** The environment a child needs to see the token (SOFTHSM2_CONF). */
  readonly env: Record<string, string>;
  readonly label: string;
  /** URI of a key, without PIN or module; `?pin-value=...&module-path=...` is for the test to add. */
  readonly uri: { rsaGen: string; p256: string; imported: string };
  /** The same URI with the PIN and the SoftHSM module: what most tests sign with. */
  readonly full: { rsaGen: string; p256: string; imported: string };
  readonly importedPem: string;
  readonly certs: {
    rsaGen: { pem: string; der: string };
    p256: { pem: string; der: string };
    imported: { pem: string; der: string };
  };
}

/** Why a token cannot be made here, or undefined. */
export function softhsmMissing(): string | undefined {
  for (const c of ['softhsm2-util', 'pkcs11-tool', 'openssl', 'evmctl'])
    if (!haveCommand(c)) return `needs the command ${c} (packages softhsm2, opensc, openssl, ima-evm-utils)`;
  if (!existsSync(SOFTHSM_MODULE)) return `needs ${SOFTHSM_MODULE} (package softhsm2)`;
  if (!existsSync(ENGINE)) return `needs ${ENGINE} (package libengine-pkcs11-openssl)`;
  return undefined;
}

async function must(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  const r = await run(cmd, args, { env, timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: status ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Writes a softhsm2.conf for the token directory; `mechanisms` as slots.mechanisms (default ALL). */
export async function softhsmConf(dir: string, name: string, tokens: string, mechanisms = 'ALL'): Promise<string> {
  const conf = join(dir, name);
  await writeFile(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n` +
      `slots.removable = false\nslots.mechanisms = ${mechanisms}\n`,
  );
  return conf;
}

export async function makeSoftToken(label = 'ima test'): Promise<SoftToken> {
  const dir = await tempDir(undefined, 'ima-sidecar-softhsm-');
  const tokens = join(dir, 'tokens');
  await must('mkdir', [tokens], {});
  const conf = await softhsmConf(dir, 'softhsm2.conf', tokens);
  const env = { SOFTHSM2_CONF: conf };
  await must('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', SO_PIN, '--pin', PIN], env);
  const tool = (...args: string[]): Promise<string> =>
    must('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', label, '--login', '--pin', PIN, ...args], env);
  await tool('--keypairgen', '--key-type', 'rsa:2048', '--id', '01', '--label', 'rsa-gen');
  await tool('--keypairgen', '--key-type', 'EC:prime256v1', '--id', '02', '--label', 'p256');
  const importedPem = join(dir, 'imported.pem');
  await must('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', importedPem], env);
  const p8 = join(dir, 'imported.p8.der');
  await must('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', importedPem, '-outform', 'DER', '-out', p8], env);
  const pub = join(dir, 'imported.pub.der');
  await must('openssl', ['pkey', '-in', importedPem, '-pubout', '-outform', 'DER', '-out', pub], env);
  await tool('--write-object', p8, '--type', 'privkey', '--id', '03', '--label', 'imported');
  await tool('--write-object', pub, '--type', 'pubkey', '--id', '03', '--label', 'imported');
  const enc = encodeURIComponent(label);
  const uri = {
    rsaGen: `pkcs11:token=${enc};object=rsa-gen;type=private`,
    p256: `pkcs11:token=${enc};object=p256;type=private`,
    imported: `pkcs11:token=${enc};object=imported;type=private`,
  };
  const q = `?pin-value=${PIN}&module-path=${SOFTHSM_MODULE}`;
  const full = { rsaGen: uri.rsaGen + q, p256: uri.p256 + q, imported: uri.imported + q };
  const cert = async (name: string, keyArgs: string[]): Promise<{ pem: string; der: string }> => {
    const pem = join(dir, `${name}.crt`);
    const der = join(dir, `${name}.crt.der`);
    await must(
      'openssl',
      ['req', '-new', '-x509', ...keyArgs, '-subj', `/O=ima-sidecar tests/CN=${name}`, '-days', '30'].concat([
        '-addext',
        'subjectKeyIdentifier=hash',
        '-out',
        pem,
      ]),
      env,
    );
    await must('openssl', ['x509', '-in', pem, '-outform', 'DER', '-out', der], env);
    return { pem, der };
  };
  const engineKey = (u: string): string[] => [
    '-engine',
    'pkcs11',
    '-keyform',
    'engine',
    '-key',
    `${u}?pin-value=${PIN}`,
  ];
  const certs = {
    rsaGen: await cert('rsa-gen', engineKey(uri.rsaGen)),
    p256: await cert('p256', engineKey(uri.p256)),
    imported: await cert('imported', ['-key', importedPem]),
  };
  // The P-256 and imported keys' certificates live on the token too; the generated RSA key's only in files.
  await tool('--write-object', certs.p256.der, '--type', 'cert', '--id', '02', '--label', 'p256');
  await tool('--write-object', certs.imported.der, '--type', 'cert', '--id', '03', '--label', 'imported');
  return { dir, conf, env, label, uri, full, importedPem, certs };
}
