// Host-side preparation: keys, signed files and the disk images the guest mounts.
// Every IMA value is written by the SigningTool (ima-sidecar); the rest is openssl for
// keys, mkfs.ext4 -d (which carries security.ima from a host folder into the image) and
// mkfs.vfat + mtools for FAT. Nothing is mounted on the host.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { mustRun, run } from './exec.js';
import type { HashAlgo, SigningTool } from './signer.js';

export interface Key {
  name: string;
  keyPem: string;
  certPem: string;
  certDer: Buffer;
}

export function makeKey(dir: string, name: string, bits: number): Key {
  mkdirSync(dir, { recursive: true });
  const keyPem = join(dir, `${name}.key.pem`);
  const certPem = join(dir, `${name}.crt.pem`);
  const certDer = join(dir, `${name}.crt.der`);
  // OpenSSL's default extensions give the certificate a subjectKeyIdentifier (the SHA-1
  // of the key), whose last 4 bytes are the keyid the kernel looks the signer up by.
  mustRun('openssl', [
    'req',
    '-x509',
    '-newkey',
    `rsa:${bits}`,
    '-nodes',
    '-sha256',
    '-days',
    '3650',
    '-subj',
    `/CN=ima-sidecar kernel test ${name}`,
    '-keyout',
    keyPem,
    '-out',
    certPem,
  ]);
  mustRun('openssl', ['x509', '-in', certPem, '-outform', 'DER', '-out', certDer]);
  return { name, keyPem, certPem, certDer: readFileSync(certDer) };
}

/** The raw security.ima of a host file, or undefined when it has none. */
export function readIma(path: string): Buffer | undefined {
  const r = run('getfattr', ['--absolute-names', '-e', 'hex', '-n', 'security.ima', path]);
  const m = /security\.ima=0x([0-9a-f]*)/.exec(r.stdout);
  return r.status === 0 && m ? Buffer.from(m[1], 'hex') : undefined;
}

export type Verdict = 'allowed' | 'denied';

/** A file of the appraisal scenario: how it was prepared and what the kernel must say. */
export interface AppraiseCase {
  /** Path under the image root; also the check's name. */
  path: string;
  how: string;
  expect: Verdict;
  /** The cause= of IMA's audit record for a denial. */
  cause?: string;
  /** The first byte security.ima must have on the host before the image is made (0: none). */
  hostType: number;
}

export interface Keys {
  /** RSA-2048, loaded into _ima. */
  a: Key;
  /** RSA-4096, loaded into _ima. */
  b: Key;
  /** RSA-2048, never loaded. */
  stranger: Key;
}

/** The appraisal suite's three keys (prepareAppraiseTree), made in `dir`. */
export function makeKeys(dir: string): Keys {
  return { a: makeKey(dir, 'a', 2048), b: makeKey(dir, 'b', 4096), stranger: makeKey(dir, 'stranger', 2048) };
}

function payload(name: string): Buffer {
  return Buffer.concat([
    Buffer.from(`ima-sidecar kernel acceptance: ${name}\n`),
    randomBytes(3000 + Math.floor(Math.random() * 5000)),
  ]);
}

function put(root: string, rel: string, data: Buffer): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, data);
  return p;
}

/** Scenario 1's tree: files signed, imported, tampered, foreign, hash-only and bare. */
export function prepareAppraiseTree(tool: SigningTool, root: string, keys: Keys): AppraiseCase[] {
  const sign = (k: Key, hashAlgo: HashAlgo, to: 'xattr' | 'sidecar' | 'both', paths: string[]) =>
    tool.sign({ keyPem: k.keyPem, certPem: k.certPem, hashAlgo, to }, paths);
  const f = (rel: string) => put(root, rel, payload(rel));
  const cases: AppraiseCase[] = [];

  const x256 = f('signed-xattr-sha256');
  const x256b = f('signed-xattr-sha256-second');
  sign(keys.a, 'sha256', 'xattr', [x256, x256b]);
  cases.push({ path: 'signed-xattr-sha256', how: 'sign --to xattr, RSA-2048, sha256', expect: 'allowed', hostType: 3 });
  cases.push({ path: 'signed-xattr-sha256-second', how: 'same call, second path', expect: 'allowed', hostType: 3 });

  sign(keys.b, 'sha512', 'xattr', [f('signed-xattr-sha512')]);
  cases.push({ path: 'signed-xattr-sha512', how: 'sign --to xattr, RSA-4096, sha512', expect: 'allowed', hostType: 3 });

  sign(keys.a, 'sha256', 'both', [f('signed-both-sha256')]);
  cases.push({ path: 'signed-both-sha256', how: 'sign --to both', expect: 'allowed', hostType: 3 });

  const imp = f('imported-sha256');
  sign(keys.a, 'sha256', 'sidecar', [imp]);
  tool.importSidecars(false, [imp]);
  cases.push({ path: 'imported-sha256', how: 'sign --to sidecar, then import FILE', expect: 'allowed', hostType: 3 });

  const one = f('imported-tree/one');
  const two = f('imported-tree/sub/two');
  sign(keys.a, 'sha256', 'sidecar', [one]);
  sign(keys.b, 'sha512', 'sidecar', [two]);
  tool.importSidecars(true, [join(root, 'imported-tree')]);
  cases.push({
    path: 'imported-tree/one',
    how: 'sign --to sidecar (sha256), then import -r DIR',
    expect: 'allowed',
    hostType: 3,
  });
  cases.push({
    path: 'imported-tree/sub/two',
    how: 'sign --to sidecar (RSA-4096, sha512), then import -r DIR',
    expect: 'allowed',
    hostType: 3,
  });

  const tampered = f('tampered');
  sign(keys.a, 'sha256', 'xattr', [tampered]);
  appendFileSync(tampered, 'changed after signing\n');
  cases.push({
    path: 'tampered',
    how: 'sign --to xattr, then content appended',
    expect: 'denied',
    cause: 'invalid-signature',
    hostType: 3,
  });

  sign(keys.stranger, 'sha256', 'xattr', [f('unknown-key')]);
  cases.push({
    path: 'unknown-key',
    how: 'sign --to xattr with a key not in _ima',
    expect: 'denied',
    cause: 'invalid-signature',
    hostType: 3,
  });

  tool.hashOnly('sha256', [f('hash-only')]);
  cases.push({
    path: 'hash-only',
    how: 'hash --to xattr (0x04 value)',
    expect: 'denied',
    cause: 'IMA-signature-required',
    hostType: 4,
  });

  f('no-value');
  cases.push({
    path: 'no-value',
    how: 'no security.ima',
    expect: 'denied',
    cause: 'IMA-signature-required',
    hostType: 0,
  });

  sign(keys.a, 'sha256', 'sidecar', [f('sidecar-not-imported')]);
  cases.push({
    path: 'sidecar-not-imported',
    how: 'sign --to sidecar and no import: the kernel does not read .sig files',
    expect: 'denied',
    cause: 'IMA-signature-required',
    hostType: 0,
  });
  return cases;
}

/** Problems with the host files before they go into an image (saves a boot on a broken preparation). */
export function checkHostValues(root: string, cases: AppraiseCase[]): string[] {
  const problems: string[] = [];
  for (const c of cases) {
    const v = readIma(join(root, c.path));
    const got = v ? v[0] : 0;
    if (got !== c.hostType) {
      problems.push(
        `${c.path} (${c.how}): security.ima type ${got ? `0x0${got}` : 'absent'}, ` +
          `expected ${c.hostType ? `0x0${c.hostType}` : 'absent'}`,
      );
    }
  }
  return problems;
}

function treeBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    n += s.isDirectory() ? treeBytes(p) : s.size;
  }
  return n;
}

/** An ext4 image holding DIR, security.ima included; no mount needed; about SPAREMIB more MiB free for the guest. */
export function makeExt4Image(dir: string, image: string, uuid: string, label: string, spareMiB = 0): void {
  const mib = Math.max(16, Math.ceil((treeBytes(dir) * 1.3) / (1 << 20)) + 8 + spareMiB);
  mustRun('mkfs.ext4', ['-q', '-F', '-U', uuid, '-L', label, '-E', 'root_owner=0:0', '-d', dir, image, `${mib}M`]);
}

/** debugfs's view of a file's xattrs inside an ext4 image. */
export function ext4Xattrs(image: string, path: string): string {
  return run('debugfs', ['-R', `ea_list /${path}`, image]).stdout;
}

const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

/** A FAT image holding the given files at its root; no mount needed. */
export function makeFatImage(image: string, files: string[], label: string): void {
  const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
  const mib = Math.max(16, Math.ceil((bytes * 1.2) / (1 << 20)) + 4);
  mustRun('truncate', ['-s', `${mib}M`, image]);
  mustRun('mkfs.vfat', ['-n', label, image]);
  mustRun('mcopy', ['-i', image, ...files, '::/'], { env: mtoolsEnv });
}

/** Copies files out of a FAT image, as they lie there. */
export function copyFromFat(image: string, names: string[], dest: string): void {
  mkdirSync(dest, { recursive: true });
  mustRun('mcopy', ['-n', '-i', image, ...names.map((n) => `::/${n}`), dest], { env: mtoolsEnv });
}

export function fatListing(image: string): string {
  return run('mdir', ['-i', image, '::/'], { env: mtoolsEnv }).stdout;
}

export interface KexecDisks {
  fatImage: string;
  ext4Image: string;
  ext4Uuid: string;
  /** Paths inside the ext4 image. */
  migrated: string;
  inPlace: string;
  unsigned: string;
  problems: string[];
}

function findFile(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? findFile(p, name) : n === name ? [p] : [];
  });
}

/**
 * Scenario 2's disks. The FAT image holds vmlinuz and vmlinuz.sig (sign --to sidecar).
 * The ext4 image holds: migrated/ (ima-sidecar migrate of the files copied back out of the
 * FAT image), inplace/vmlinuz (copied there, then sign --to xattr), unsigned/vmlinuz.
 */
export function prepareKexecDisks(tool: SigningTool, work: string, vmlinuz: string, keys: Keys): KexecDisks {
  const problems: string[] = [];
  const fatSrc = join(work, 'fat-src');
  mkdirSync(fatSrc, { recursive: true });
  const k = join(fatSrc, 'vmlinuz');
  copyFileSync(vmlinuz, k);
  tool.sign({ keyPem: keys.a.keyPem, certPem: keys.a.certPem, hashAlgo: 'sha256', to: 'sidecar' }, [k]);
  if (!existsSync(`${k}.sig`)) problems.push(`sign --to sidecar left no ${k}.sig`);
  const fatImage = join(work, 'kexec-fat.img');
  makeFatImage(fatImage, [k, `${k}.sig`].filter(existsSync), 'IMAFAT');

  // What the FAT partition holds, byte for byte, is the source of the migration.
  const fromFat = join(work, 'from-fat');
  copyFromFat(fatImage, ['vmlinuz', 'vmlinuz.sig'], fromFat);
  for (const n of ['vmlinuz', 'vmlinuz.sig']) {
    if (!existsSync(join(fromFat, n)) || !readFileSync(join(fromFat, n)).equals(readFileSync(join(fatSrc, n)))) {
      problems.push(`${n} did not come back out of the FAT image unchanged`);
    }
  }

  const root = join(work, 'kexec-root');
  mkdirSync(root, { recursive: true });
  tool.migrate(fromFat, join(root, 'migrated'));
  const found = findFile(join(root, 'migrated'), 'vmlinuz');
  if (found.length !== 1)
    problems.push(`migrate -r ${fromFat} ${join(root, 'migrated')} produced ${found.length} files named vmlinuz`);
  const migrated = found.length ? relative(root, found[0]) : 'migrated/vmlinuz';
  if (found.length && readIma(found[0])?.[0] !== 3)
    problems.push(`the migrated ${migrated} has no signature in security.ima`);

  const inPlace = put(root, 'inplace/vmlinuz', readFileSync(vmlinuz));
  tool.sign({ keyPem: keys.b.keyPem, certPem: keys.b.certPem, hashAlgo: 'sha512', to: 'xattr' }, [inPlace]);
  if (readIma(inPlace)?.[0] !== 3) problems.push('sign --to xattr left no signature on inplace/vmlinuz');
  put(root, 'unsigned/vmlinuz', readFileSync(vmlinuz));

  const ext4Uuid = randomUUID();
  const ext4Image = join(work, 'kexec-ext4.img');
  makeExt4Image(root, ext4Image, ext4Uuid, 'imakexec');
  for (const p of [migrated, 'inplace/vmlinuz']) {
    if (!/security\.ima/.test(ext4Xattrs(ext4Image, p)))
      problems.push(`mkfs.ext4 -d did not carry security.ima of ${p} into the image`);
  }
  return {
    fatImage,
    ext4Image,
    ext4Uuid,
    migrated,
    inPlace: 'inplace/vmlinuz',
    unsigned: 'unsigned/vmlinuz',
    problems,
  };
}
