#!/usr/bin/env node
/**
 * The least a Node process can do to verify a tree from its xattrs, as a
 * yardstick for `verify -r --from xattr`: every call synchronous, no checks
 * beyond the signature (no symlink or race protection, no format validation,
 * no result records, no order), one line per file. Not a tool: a floor.
 * bench/bench.js runs it beside ima-sidecar and evmctl so that the distance
 * to evmctl that no amount of tuning of ours can close is measured, not
 * guessed.
 *
 *   node bench/verify-floor.js CERT.der DIR [ATTR]
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

const [certPath, dir, attr = 'security.ima'] = process.argv.slice(2);
if (!certPath || !dir) {
  process.stderr.write('usage: node bench/verify-floor.js CERT.der DIR [ATTR]\n');
  process.exit(2);
}
const files = [];
forEachFile(dir, (p, name) => {
  if (!name.endsWith('.sig')) files.push(p);
});
const { lines, bad } = verifyAll(certPath, files, attr);
writeSync(1, lines);
process.exitCode = bad ? 1 : 0;
