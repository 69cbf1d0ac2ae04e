// doctorFile on real files in a temporary folder (user.ima standing in for security.ima, so no root needed),
// against a kernel view made of injected files: the facts examined without reading (O_PATH), the content
// hashed once, signatures checked with a certificate or with the kernel's key (a verifier stand-in), the
// sidecar offered as the fix, symbolic links followed, and the typed error results. Also this process's
// credentials as /proc/self/status gives them.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { mkdirSync, readFileSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setAttributeSync } from 'fs-xattr';
import { loadCertificates } from '../../src/crypto/certificate.js';
import { subjectFromStatus } from '../../src/kernel/credentials.js';
import { examineFile } from '../../src/kernel/file-facts.js';
import type { KernelKeyVerifier } from '../../src/kernel/key-verify.js';
import { gatherKernelView, KernelView, TextRead } from '../../src/kernel/view.js';
import { DoctorResult, DoctorVerdict, doctorFile, doctorFiles } from '../../src/ops/doctor.js';
import { fixture, tempDir } from '../helpers/cli.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const KEYID = '308baedd';
const PROC_KEYS =
  '1f92a4c1 I--Q---     1 perm 39010000     0     0 asymmetri ima-sidecar test: rsa2048: ' +
  `044a83ace061398b34734334acd98891308baedd: X509.rsa ${KEYID} []\n` +
  '31acfdd4 I--Q---     1 perm 3f010000     0     0 keyring   _ima: 1\n';

/** A v2 sha256 signature of `content` by the test key, as security.ima holds it. */
function signature(content: Buffer): Buffer {
  const sig = sign('sha256', content, createPrivateKey(readFileSync(KEY)));
  const header = Buffer.alloc(9);
  header[0] = 0x03;
  header[1] = 2;
  header[2] = 4;
  Buffer.from(KEYID, 'hex').copy(header, 3);
  header.writeUInt16BE(sig.length, 7);
  return Buffer.concat([header, sig]);
}

function view(policy: string, procKeys = PROC_KEYS): KernelView {
  const files: Record<string, string> = {
    '/proc/cmdline': 'ro',
    '/proc/keys': procKeys,
    '/sys/kernel/security/evm': '0',
    'doctor.policy': policy,
  };
  return gatherKernelView({
    root: '',
    policyFile: 'doctor.policy',
    readText: (p): TextRead => (p in files ? { text: files[p]! } : { error: 'ENOENT' }),
    readBytes: () => undefined,
    exists: (p) => p in files,
    keyctl: null,
  });
}

const IMASIG = 'appraise func=FILE_CHECK appraise_type=imasig\n';

function verdictOf(r: DoctorResult): DoctorVerdict {
  assert.equal(r.kind, 'verdict', JSON.stringify(r));
  return r as DoctorVerdict;
}

/** A folder whose filesystem takes user.* xattrs, or undefined (the test is skipped). */
async function xattrDir(t: TestContext): Promise<string | undefined> {
  const dir = await tempDir(t);
  try {
    writeFileSync(join(dir, 'probe'), '');
    setAttributeSync(join(dir, 'probe'), 'user.probe', Buffer.from('1'));
    return dir;
  } catch {
    t.skip('the temporary folder takes no user xattrs');
    return undefined;
  }
}

describe('doctorFile', () => {
  test('a signed file: allowed, checked with the certificate; the facts come along', async (t) => {
    const dir = await xattrDir(t);
    if (!dir) return;
    const f = join(dir, 'kernel');
    const content = Buffer.from('a kernel image, of sorts\n');
    writeFileSync(f, content);
    setAttributeSync(f, 'user.ima', signature(content));
    const certs = await loadCertificates([CERT]);
    const r = verdictOf(await doctorFile(f, { hook: 'read', view: view(IMASIG), certs, xattrName: 'user.ima' }));
    assert.equal(r.verdict, 'allowed');
    assert.equal(r.cause, null);
    assert.equal(r.certain, true);
    assert.match(r.explanation, /verifies \(certificate .*rsa2048\.crt\.pem\)/);
    assert.equal(r.filesystem.magic, Number(statfsSync(dir).type));
    assert.equal(r.filesystem.xattrs, true);
    assert.equal(r.openDenied, false);
    assert.equal(r.value?.[0], 0x03);
    assert.ok(r.notes.some((n) => /user\.ima was read in place of security\.ima/.test(n)));
  });

  test('the content changed since signing: invalid-signature, told by the certificate', async (t) => {
    const dir = await xattrDir(t);
    if (!dir) return;
    const f = join(dir, 'kernel');
    setAttributeSync((writeFileSync(f, 'new content'), f), 'user.ima', signature(Buffer.from('old content')));
    const certs = await loadCertificates([CERT]);
    const r = verdictOf(await doctorFile(f, { hook: 'kexec', view: view(IMASIG), certs, xattrName: 'user.ima' }));
    assert.equal(r.verdict, 'denied');
    assert.equal(r.cause, 'invalid-signature');
    assert.match(r.explanation, /content changed since signing.*opened by kexec, FILE_CHECK/);
    assert.match(r.fix ?? '', /^ima-sidecar sign --cert .*rsa2048\.crt\.pem --to xattr /);
  });

  test("no certificate: the kernel's key is asked (here a stand-in for keyctl pkey_verify)", async (t) => {
    const dir = await xattrDir(t);
    if (!dir) return;
    const f = join(dir, 'kernel');
    writeFileSync(f, 'x');
    setAttributeSync(f, 'user.ima', signature(Buffer.from('x')));
    const asked: unknown[][] = [];
    const keyVerifier: KernelKeyVerifier = (...args) => (asked.push(args), 'valid');
    const opts = { hook: 'read' as const, view: view(IMASIG), xattrName: 'user.ima' };
    const r = verdictOf(await doctorFile(f, { ...opts, keyVerifier }));
    assert.equal(r.verdict, 'allowed');
    assert.equal(r.certain, true);
    assert.equal(asked[0]![0], 0x1f92a4c1);
    assert.equal(asked[0]![2], 'sha256');
    const unchecked = verdictOf(await doctorFile(f, opts));
    assert.equal(unchecked.verdict, 'allowed');
    assert.equal(unchecked.certain, false);
    assert.match(unchecked.explanation, /not checked/);
  });

  test('no attribute, a sidecar that would pass: the fix imports it', async (t) => {
    const dir = await xattrDir(t);
    if (!dir) return;
    const f = join(dir, 'kernel');
    writeFileSync(f, 'payload');
    writeFileSync(`${f}.sig`, signature(Buffer.from('payload')));
    const certs = await loadCertificates([CERT]);
    const r = verdictOf(await doctorFile(f, { hook: 'read', view: view(IMASIG), certs, xattrName: 'user.ima' }));
    assert.equal(r.verdict, 'denied');
    assert.equal(r.cause, 'IMA-signature-required');
    assert.deepEqual(r.sidecar, { path: `${f}.sig`, sameAsXattr: false, passes: true });
    assert.equal(r.fix, `ima-sidecar import ${f}`);
  });

  test('a symbolic link: the file it leads to is appraised and named in the fix', async (t) => {
    const dir = await xattrDir(t);
    if (!dir) return;
    const real = join(dir, 'vmlinuz-6.1.0');
    writeFileSync(real, 'k');
    symlinkSync('vmlinuz-6.1.0', join(dir, 'vmlinuz'));
    const r = verdictOf(
      await doctorFile(join(dir, 'vmlinuz'), { hook: 'read', view: view('appraise\n'), xattrName: 'user.ima' }),
    );
    assert.equal(r.path, join(dir, 'vmlinuz'));
    assert.equal(r.realPath, real);
    assert.equal(r.cause, 'missing-hash');
    assert.equal(r.fix, `ima-sidecar hash --to xattr ${real}`);
    assert.match(r.notes[0]!, /is a symbolic link to/);
  });

  test('not appraised: a rule for another hook', async (t) => {
    const dir = await tempDir(t);
    writeFileSync(join(dir, 'f'), '');
    const r = verdictOf(
      await doctorFile(join(dir, 'f'), { hook: 'read', view: view(IMASIG.replace('FILE', 'MODULE')) }),
    );
    assert.equal(r.verdict, 'not-appraised');
  });

  test('errors are results: missing file, a folder, in order through doctorFiles', async (t) => {
    const dir = await tempDir(t);
    mkdirSync(join(dir, 'sub'));
    const got: DoctorResult[] = [];
    for await (const r of doctorFiles([join(dir, 'nope'), join(dir, 'sub')], { hook: 'read', view: view(IMASIG) }))
      got.push(r);
    assert.deepEqual(
      got.map((r) => (r.kind === 'error' ? r.code : r.kind)),
      ['ENOENT', 'EINVAL'],
    );
    assert.match((got[1] as { reason: string }).reason, /regular files only/);
  });
});

describe('file facts without reading the file', () => {
  test('fstat, statfs and the xattrs through an O_PATH descriptor', async (t) => {
    const dir = await tempDir(t);
    const f = join(dir, 'f');
    writeFileSync(f, 'abc');
    const e = examineFile(f, 'user.ima');
    assert.equal(e.facts.size, 3);
    assert.equal(e.facts.symlink, false);
    assert.equal(e.facts.fsMagic, Number(statfsSync(dir).type));
    assert.deepEqual(e.ima, { state: 'absent' });
  });
});

describe('credentials from /proc/self/status', () => {
  test('real, effective and saved ids; CAP_SETUID and CAP_SETGID from CapEff', () => {
    const status = 'Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t5\t1000\nCapEff:\t00000000000000c0\n';
    assert.deepEqual(subjectFromStatus(status, { uid: 9, gid: 9 }), {
      uid: 1000,
      euid: 0,
      suid: 0,
      gid: 1000,
      egid: 1000,
      sgid: 5,
      capSetuid: true,
      capSetgid: true,
    });
    const none = subjectFromStatus('', { uid: 1000, gid: 100 });
    assert.equal(none.euid, 1000);
    assert.equal(none.capSetuid, false);
  });
});
