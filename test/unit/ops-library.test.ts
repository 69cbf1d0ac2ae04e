// Every operation called in-process through the library entry, on real temporary files: the typed
// statuses and details a library user switches on, cancellation by AbortSignal, and migrate's per-run state.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  attachModsig,
  clearFile,
  exportFile,
  hashAlgoByName,
  hashFile,
  importFile,
  inspect,
  inspectModsig,
  keyidsOf,
  loadCertificates,
  loadPrivateKey,
  migrate,
  resolveSigner,
  resultToJson,
  signFile,
  signModsig,
  signTree,
  statusOf,
  statusTree,
  stripModsig,
  verifyFile,
  verifyModsig,
  verifyTree,
} from '../../src/index.js';
import type {
  Certificate,
  FileResult,
  MigrateResult,
  ModsigInspectDetails,
  SignOptions,
  SignResult,
  StatusResult,
  TreeOptions,
  VerifyResult,
} from '../../src/index.js';
import { fixture, tempDir } from '../helpers/cli.js';
import { skipOrFail } from '../helpers/skip.js';
import { writeFiles } from '../helpers/trees.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const where = { xattrName: 'user.ima', suffix: '.sig' };
const sha256 = hashAlgoByName('sha256')!;
const tree = (extra: Partial<TreeOptions> = {}): TreeOptions => ({
  select: { recursive: true, suffix: '.sig' },
  ...extra,
});

async function signing(): Promise<{ opts: SignOptions; certs: Certificate[] }> {
  const signer = await resolveSigner({ keyPath: KEY, certPath: CERT }, () => {});
  const opts: SignOptions = { key: signer.key, keyid: signer.keyid, hashAlgo: sha256, ...where };
  return { opts, certs: await loadCertificates([CERT]) };
}

async function collect<R>(results: AsyncIterable<R>): Promise<R[]> {
  const out: R[] = [];
  for await (const r of results) out.push(r);
  return out;
}

/** A file signed into its sidecar; the sidecar's bytes. */
async function signedFile(t: TestContext, name = 'f', body = 'content\n') {
  const dir = await tempDir(t);
  const [path] = await writeFiles(dir, { [name]: body });
  const { opts, certs } = await signing();
  const signed: SignResult = await signFile(path!, opts);
  assert.equal(signed.status, 'signed', JSON.stringify(resultToJson(signed)));
  return { dir, path: path!, opts, certs, sidecar: readFileSync(`${path}.sig`) };
}

/** Imports into user.ima, or skips the test where the temporary folder's filesystem takes no user xattrs. */
async function importOrSkip(t: TestContext, path: string): Promise<boolean> {
  const r = await importFile(path, where);
  if (r.status === 'unsupported') {
    skipOrFail(t, `the temp directory takes no user xattrs (${r.details?.filesystem})`);
    return false;
  }
  assert.equal(r.status, 'imported', JSON.stringify(resultToJson(r)));
  assert.equal(r.details?.sidecar, `${path}.sig`);
  assert.equal(typeof r.details?.filesystem, 'string');
  return true;
}

test('sign: signed into the sidecar, then replaced; a dry run would sign; the details are typed', async (t) => {
  const { path, opts, sidecar } = await signedFile(t);
  const again = await signFile(path, opts);
  assert.equal(again.status, 'replaced');
  assert.deepEqual(again.details?.carriers, ['sidecar']);
  assert.equal(typeof again.details?.filesystem, 'string');
  assert.equal(again.details?.xattr, undefined);
  assert.equal(again.failed, false);
  assert.ok(again.value?.equals(sidecar), 'RSA PKCS#1 v1.5 signs the same bytes the same way');
  assert.equal(again.decoded?.kind, 'signature');
  const dry = await signFile(path, { ...opts, dryRun: true });
  assert.equal(dry.status, 'would-sign');
  assert.equal(dry.details, undefined);
  const missing = await signFile(join(path, '..', 'nothing'), opts);
  assert.equal(missing.status, 'failed');
  assert.equal(missing.failed, true);
  assert.match(missing.reason ?? '', /no such file|not found|ENOENT/i);
});

test('verify: ok from the sidecar, each carrier with its verdict; a changed file fails', async (t) => {
  const { path, certs, sidecar } = await signedFile(t);
  const ok: VerifyResult = await verifyFile(path, { certs, ...where });
  assert.equal(ok.status, 'ok', JSON.stringify(resultToJson(ok)));
  assert.equal(ok.details?.carriers?.length, 1);
  const [carrier] = ok.details!.carriers!;
  assert.equal(carrier!.carrier, 'sidecar');
  assert.equal(carrier!.status, 'ok');
  assert.equal(carrier!.signer, CERT);
  assert.equal(carrier!.value, sidecar.toString('hex'));
  const json = resultToJson(ok);
  assert.deepEqual(json.carriers, [{ carrier: 'sidecar', status: 'ok', signer: CERT, value: sidecar.toString('hex') }]);
  await writeFiles(join(path, '..'), { f: 'changed\n' });
  const bad = await verifyFile(path, { certs, ...where });
  assert.equal(bad.status, 'failed');
  assert.equal(bad.details?.carriers?.[0]?.status, 'failed');
  assert.match(bad.reason ?? '', /digest mismatch|bad signature/);
});

test('status: the state, flags as booleans, carriers as hex, each carrier verified with certificates', async (t) => {
  const { path, certs, sidecar } = await signedFile(t);
  const plain: StatusResult = await statusOf(path, where);
  assert.equal(plain.status, 'sidecar-only');
  assert.equal(plain.details?.state, 'sidecar-only');
  assert.equal(plain.details?.appended, false);
  assert.equal(plain.details?.sidecar, sidecar.toString('hex'));
  assert.equal(plain.details?.xattr, undefined);
  assert.equal(plain.details?.verified, undefined);
  assert.ok(plain.details?.xattrs === undefined || typeof plain.details.xattrs === 'boolean');
  const checked = await statusOf(path, { ...where, certs });
  assert.deepEqual(checked.details?.verified, { sidecar: 'ok' });
  assert.equal(checked.failed, false);
  // JSON output keeps the field order it always had.
  assert.deepEqual(Object.keys(resultToJson(checked)).slice(0, 2), ['path', 'status']);
  assert.equal(resultToJson(checked).state, 'sidecar-only');
});

test('hash: to stdout, then into a sidecar holding a signature: a conflict naming it; force replaces it', async (t) => {
  const { path, sidecar } = await signedFile(t);
  const opts = { hashAlgo: sha256, ...where };
  const out = await hashFile(path, opts);
  assert.equal(out.status, 'hashed');
  assert.equal(out.details?.to, 'stdout');
  assert.equal(out.decoded?.kind, 'digest');
  const conflict = await hashFile(path, { ...opts, to: 'sidecar' });
  assert.equal(conflict.status, 'conflict');
  assert.equal(conflict.failed, true);
  assert.equal(conflict.details?.current, sidecar.toString('hex'));
  const forced = await hashFile(path, { ...opts, to: 'sidecar', force: true });
  assert.equal(forced.status, 'replaced');
  assert.equal(forced.details?.replaced, sidecar.toString('hex'));
  assert.ok(readFileSync(`${path}.sig`).equals(forced.value!));
});

test('inspect: a sidecar is valid with its size; odd hex is invalid; a missing sidecar failed', async (t) => {
  const { path, sidecar } = await signedFile(t);
  const valid = await inspect({ kind: 'sidecar', path: `${path}.sig` });
  assert.equal(valid.status, 'valid');
  assert.equal(valid.details?.size, sidecar.length);
  assert.equal(valid.decoded?.kind, 'signature');
  const hex = await inspect({ kind: 'hex', hex: sidecar.toString('hex') });
  assert.equal(hex.status, 'valid');
  assert.equal((await inspect({ kind: 'hex', hex: 'abc' })).status, 'invalid');
  assert.equal((await inspect({ kind: 'sidecar', path: `${path}.nothing` })).status, 'failed');
});

test('keyid: the certificate keyid, where it came from, the key type', async () => {
  const [r, ...rest] = await keyidsOf([CERT], () => {});
  assert.equal(rest.length, 0);
  assert.equal(r!.status, 'ok');
  assert.match(r!.details?.keyid ?? '', /^[0-9a-f]{8}$/);
  assert.equal(r!.details?.keyidSource, 'subjectKeyIdentifier');
  assert.equal(r!.details?.keyType, 'rsa');
  assert.ok(r!.details?.skid?.endsWith(r!.details.keyid!));
  const [missing] = await keyidsOf([`${CERT}.nothing`], () => {});
  assert.equal(missing!.status, 'failed');
});

test('import, export and clear through user.ima', async (t) => {
  const { dir, path, sidecar } = await signedFile(t);
  if (!(await importOrSkip(t, path))) return;
  const unchanged = await importFile(path, where);
  assert.equal(unchanged.status, 'unchanged');
  assert.equal(unchanged.details?.sidecarRemoved, undefined);

  const dest = join(dir, 'staging');
  const exported = await exportFile({ path, rel: 'f' }, { ...where, dest });
  assert.equal(exported.status, 'exported', JSON.stringify(resultToJson(exported)));
  assert.equal(exported.details?.sidecar, join(dest, 'f.sig'));
  assert.ok(readFileSync(join(dest, 'f.sig')).equals(sidecar));
  assert.equal((await exportFile({ path, rel: 'f' }, where)).status, 'unchanged');

  const cleared = await clearFile(path, where);
  assert.equal(cleared.status, 'cleared', JSON.stringify(resultToJson(cleared)));
  assert.equal(cleared.details?.removed, sidecar.toString('hex'));
  const none = await clearFile(path, where);
  assert.equal(none.status, 'none');
  assert.equal(none.details?.removed, undefined);

  // With removeSidecar the value moves: the flag is a boolean.
  const moved = await importFile(path, { ...where, removeSidecar: true });
  assert.equal(moved.status, 'imported');
  assert.equal(moved.details?.sidecarRemoved, true);
  assert.equal(existsSync(`${path}.sig`), false);
  assert.equal((await statusOf(path, where)).status, 'xattr-only');
});

test('modsig: sign, inspect, verify, strip back to the payload; attach a sidecar', async (t) => {
  const dir = await tempDir(t);
  const body = Buffer.from('a kernel module, or near enough\n');
  const [path] = await writeFiles(dir, { 'm.ko': body });
  const key = await loadPrivateKey(KEY);
  const certs = await loadCertificates([CERT]);
  const cert = certs[0]!;
  const signed = await signModsig(path!, { key, cert, hashAlgo: sha256, signerId: 'skid' });
  assert.equal(signed.status, 'signed', JSON.stringify(resultToJson(signed)));
  assert.equal(signed.details?.payloadLength, body.length);
  assert.equal(signed.details?.signerId, 'skid');
  assert.equal(signed.details?.hashAlgo, 'sha256');
  assert.equal(typeof signed.details?.sigLen, 'number');
  assert.equal(signed.details?.output, undefined, 'in place');

  const inspected = await inspectModsig(path!);
  assert.equal(inspected.status, 'valid');
  assert.equal(inspected.details?.payloadLength, body.length);
  assert.equal(inspected.details?.sigLen, signed.details?.sigLen);
  assert.equal(inspected.details?.idTypeName, 'PKCS#7');
  assert.equal(inspected.details?.signerId, 'skid');
  assert.equal(inspected.details?.detached, true);
  assert.match(inspected.details?.keyid ?? '', /^[0-9a-f]{8}$/);
  // The appended signature's fields come from untyped describers: every one is a field the type names.
  const known: (keyof ModsigInspectDetails)[] = [
    'fileSize',
    'payloadLength',
    'sigLen',
    'idType',
    'idTypeName',
    'cmsSize',
    'signedDataVersion',
    'contentType',
    'detached',
    'certificates',
    'signerInfos',
    'signerInfoVersion',
    'digestAlgorithm',
    'signatureAlgorithm',
    'signerId',
    'skid',
    'issuer',
    'serial',
    'signedAttributes',
    'unsignedAttributes',
    'signatureSize',
    'keyid',
    'problems',
  ];
  for (const k of Object.keys(inspected.details!)) assert.ok(known.includes(k as keyof ModsigInspectDetails), k);

  const verified = await verifyModsig(path!, { certs });
  assert.equal(verified.status, 'ok', JSON.stringify(resultToJson(verified)));
  assert.equal(verified.details?.signer, CERT);
  assert.equal(verified.details?.keyid, inspected.details?.keyid);
  // verify sees the appended carrier too, and says what it covers.
  const all = await verifyFile(path!, { certs, ...where });
  assert.equal(all.status, 'ok');
  assert.equal(all.details?.carriers?.[0]?.carrier, 'appended');

  const out = join(dir, 'payload');
  const stripped = await stripModsig(path!, { output: out });
  assert.equal(stripped.status, 'stripped');
  assert.equal(stripped.details?.output, out);
  assert.equal(stripped.details?.payloadLength, body.length);
  assert.equal(stripped.details?.removed, readFileSync(path!).length - body.length);
  assert.ok(readFileSync(out).equals(body));
  assert.equal((await stripModsig(out)).status, 'unsigned');

  // The payload signed into a v2 sidecar, then attached: the same kind of file again.
  const { opts } = await signing();
  assert.equal((await signFile(out, opts)).status, 'signed');
  const attached = await attachModsig(out, { certs, signerId: 'skid', ...where });
  assert.equal(attached.status, 'attached', JSON.stringify(resultToJson(attached)));
  assert.equal(attached.details?.sidecarRemoved, true);
  assert.equal(attached.details?.sidecar, `${out}.sig`);
  assert.equal((await verifyModsig(out, { certs })).status, 'ok');
});

test('a tree run: typed results in path order, the selection reporting an orphan sidecar with its path', async (t) => {
  const dir = await tempDir(t);
  await writeFiles(dir, { a: 'a', 'b/c': 'c', 'gone.sig': Buffer.from('0302', 'hex') });
  const { opts, certs } = await signing();
  const signed: SignResult[] = await collect(signTree([dir], tree(), opts));
  assert.deepEqual(
    signed.map((r) => [r.path, r.status]),
    [
      [join(dir, 'a'), 'signed'],
      [join(dir, 'b', 'c'), 'signed'],
      [join(dir, 'gone'), 'orphan'],
    ],
  );
  assert.equal(signed[2]!.details?.sidecar, join(dir, 'gone.sig'));
  assert.equal(signed[2]!.failed, false, 'an orphan found by a walk is not a failure');
  const verified = await collect(verifyTree([dir], tree(), { certs, ...where }));
  assert.deepEqual(
    verified.map((r) => r.status),
    ['ok', 'ok', 'orphan'],
  );
  // The batches the command line reads hold the same results.
  const batched: StatusResult[] = [];
  for await (const b of statusTree([dir], tree(), where).batches()) batched.push(...b);
  assert.deepEqual(
    batched.map((r) => r.status),
    ['sidecar-only', 'sidecar-only', 'orphan'],
  );
});

test('an AbortSignal aborted before the run: no file starts, nothing is yielded, the run ends quietly', async (t) => {
  const dir = await tempDir(t);
  await writeFiles(dir, { a: 'a', b: 'b', 'sub/c': 'c' });
  const { opts } = await signing();
  const signal = AbortSignal.abort();
  assert.deepEqual(await collect(signTree([dir], tree({ signal }), opts)), []);
  assert.deepEqual(await collect(signTree([dir], tree({ signal }), opts).batches()), []);
  for (const f of ['a', 'b', 'sub/c']) assert.equal(existsSync(join(dir, `${f}.sig`)), false, f);
  const dest = join(dir, '..', `${dir.split('/').pop()}-dest`);
  t.after(() => rmSync(dest, { recursive: true, force: true }));
  assert.deepEqual(await collect(migrate(dir, dest, tree({ signal }), { ...where, recursive: true })), []);
  assert.equal(existsSync(dest), false, 'no file started, so no destination folder made');
});

test('an AbortSignal aborted during the run: files in flight finish and are yielded, no new one starts', async (t) => {
  const dir = await tempDir(t);
  const names = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, '0')}`);
  await writeFiles(dir, Object.fromEntries(names.map((n) => [n, n])));
  const { opts } = await signing();
  const stop = new AbortController();
  const got: SignResult[] = [];
  // One file in flight at a time: aborted after the first result, nothing else was started.
  for await (const r of signTree([dir], tree({ signal: stop.signal, jobs: 1 }), opts)) {
    got.push(r);
    stop.abort();
  }
  assert.deepEqual(
    got.map((r) => r.status),
    ['signed'],
  );
  const written = names.filter((n) => existsSync(join(dir, `${n}.sig`)));
  assert.deepEqual(written, [names[0]]);
  // With more in flight, every file started is yielded and none after.
  const stop2 = new AbortController();
  const more: SignResult[] = [];
  for await (const r of signTree([dir], tree({ signal: stop2.signal, jobs: 4 }), opts)) {
    more.push(r);
    if (more.length === 2) stop2.abort();
  }
  assert.ok(more.length >= 2 && more.length < names.length, `${more.length} results`);
  assert.deepEqual(
    more.map((r) => r.path),
    names.slice(0, more.length).map((n) => join(dir, n)),
  );
});

test('a rollback rolls back its own run only: the next run in the process writes as usual', async (t) => {
  const dir = await tempDir(t);
  const names = ['a', 'b', 'c'];
  await writeFiles(dir, Object.fromEntries(names.map((n) => [n, n])));
  const { opts } = await signing();
  // Rolled back (a second Ctrl-C) before any write: every file fails as interrupted, nothing is written.
  const rolledBack = await collect(signTree([dir], tree({ rollback: AbortSignal.abort() }), opts));
  assert.deepEqual(
    rolledBack.map((r) => [r.status, r.reason]),
    names.map(() => ['failed', 'interrupted; nothing written']),
  );
  assert.deepEqual(readdirSync(dir).sort(), names, 'no sidecar and no temporary left');
  // A run with its own (unaborted) rollback signal, and one with none, are not affected.
  const again = await collect(signTree([dir], tree({ rollback: new AbortController().signal }), opts));
  assert.deepEqual(
    again.map((r) => r.status),
    ['signed', 'signed', 'signed'],
  );
  assert.equal((await signFile(join(dir, 'a'), opts)).status, 'replaced');
});

test('two migrate() runs in one process each make their own destination folders', async (t) => {
  const src = await tempDir(t);
  await writeFiles(src, { top: 'top', 'sub/a': 'a', 'sub/deeper/b': 'b' });
  const { opts } = await signing();
  for (const f of ['top', 'sub/a', 'sub/deeper/b']) assert.equal((await signFile(join(src, f), opts)).status, 'signed');
  const parent = await tempDir(t);
  const run = (dest: string): Promise<MigrateResult[]> =>
    collect(migrate(src, dest, tree(), { ...where, recursive: true }));
  const check = (results: MigrateResult[], dest: string): void => {
    assert.deepEqual(
      results.map((r) => [r.status, r.details?.dest]),
      [
        ['copied', join(dest, 'sub', 'a')],
        ['copied', join(dest, 'sub', 'deeper', 'b')],
        ['copied', join(dest, 'top')],
      ],
      JSON.stringify(results.map((r) => resultToJson(r))),
    );
    for (const r of results) {
      assert.ok(r.details?.carrier === 'xattr' || r.details?.carrier === 'sidecar', r.details?.carrier);
      assert.equal(r.details?.from, 'sidecar');
    }
    assert.equal(readFileSync(join(dest, 'sub', 'deeper', 'b'), 'utf8'), 'b');
  };
  // Two fresh destinations with the same folder names below them.
  check(await run(join(parent, 'one')), join(parent, 'one'));
  check(await run(join(parent, 'two')), join(parent, 'two'));
  // The same destination removed and made again: a folder remembered beyond its run would now be missing.
  rmSync(join(parent, 'one'), { recursive: true });
  check(await run(join(parent, 'one')), join(parent, 'one'));
  // And two runs at once.
  const [three, four] = await Promise.all([run(join(parent, 'three')), run(join(parent, 'four'))]);
  check(three!, join(parent, 'three'));
  check(four!, join(parent, 'four'));
});

test('every operation result is a FileResult for generic consumers (printing, counting)', async (t) => {
  const { path, certs } = await signedFile(t);
  const results: FileResult[] = [await verifyFile(path, { certs, ...where }), await statusOf(path, where)];
  assert.deepEqual(
    results.map((r) => r.status),
    ['ok', 'sidecar-only'],
  );
});
