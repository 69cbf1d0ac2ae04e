#!/usr/bin/env node
/**
 * The least a Node process can do to verify a tree from its xattrs, as a
 * yardstick for `verify -r --from xattr`: every call synchronous, no checks
 * beyond the signature (no symlink or race protection, no format validation,
 * no result records, no order), one line per file. Not a tool: a floor.
 * bench/bench.js runs it beside ima-sidecar and evmctl so that the distance
 * to evmctl that no amount of tuning of ours can close is measured, not
 * guessed: with one thread, and with THREADS threads (the main thread and
 * THREADS-1 workers, each verifying its share of the file list), which is
 * what two cores can give at best.
 *
 *   node bench/verify-floor.js CERT.der DIR [ATTR [THREADS]]
 */
import { createHash, publicDecrypt, constants, X509Certificate } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { getAttributeSync } from 'fs-xattr';
import { descriptorPath, forEachFile } from './floor.js';

// DigestInfo of SHA-256 (the corpus is signed with sha256), before the digest.
const PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** Verifies `files`, returning the lines to print and the counts. */
function verifyAll(certPath, files, attr) {
  const key = new X509Certificate(readFileSync(certPath)).publicKey;
  const buf = Buffer.allocUnsafe(1 << 20);
  let ok = 0;
  let lines = '';
  for (const p of files) {
    lstatSync(p);
    const fd = openSync(p, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    fstatSync(fd);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const value = getAttributeSync(descriptorPath(fd), attr);
    closeSync(fd);
    const digest = createHash('sha256').update(buf.subarray(0, n)).digest();
    // security.ima v2: type, version, algo, keyid (4), size (2), then the signature.
    const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, value.subarray(9));
    const good = recovered.equals(Buffer.concat([PREFIX, digest]));
    if (good) ok++;
    lines += `${p}: ${good ? 'ok' : 'failed'}\n`;
  }
  return { lines, ok, bad: files.length - ok };
}

if (!isMainThread) {
  parentPort.postMessage(verifyAll(workerData.certPath, workerData.files, workerData.attr));
} else {
  const [certPath, dir, attr = 'security.ima', threadsArg = '1'] = process.argv.slice(2);
  const threads = Number(threadsArg);
  if (!certPath || !dir || !(threads >= 1)) {
    process.stderr.write('usage: node bench/verify-floor.js CERT.der DIR [ATTR [THREADS]]\n');
    process.exit(2);
  }
  const files = [];
  forEachFile(dir, (p, name) => {
    if (!name.endsWith('.sig')) files.push(p);
  });
  const share = Math.ceil(files.length / threads);
  const others = [];
  for (let i = 1; i < threads; i++) {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { certPath, files: files.slice(i * share, (i + 1) * share), attr },
    });
    others.push(new Promise((resolve, reject) => w.once('message', resolve).once('error', reject)));
  }
  const results = [verifyAll(certPath, files.slice(0, share), attr), ...(await Promise.all(others))];
  let ok = 0;
  let bad = 0;
  for (const r of results) {
    writeSync(1, r.lines);
    ok += r.ok;
    bad += r.bad;
  }
  process.stderr.write(`${ok} ok, ${bad} failed\n`);
  process.exitCode = bad ? 1 : 0;
}
