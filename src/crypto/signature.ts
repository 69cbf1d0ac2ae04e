/**
 * Making and checking the signature bytes of a v2/v3 IMA signature.
 *
 * RSA works on the digest (RSASSA-PKCS1-v1_5 over DigestInfo), so a file is
 * hashed once and a failed check can tell a changed file from a wrong key.
 * ECDSA has no pre-hashed API in Node, so for v2 the content is streamed
 * through a Sign/Verify object beside the digest (same bytes, same result as
 * signing the digest, since ECDSA signs the hash of the input).
 */
import {
  createHash,
  createSign,
  createVerify,
  constants,
  KeyObject,
  privateEncrypt,
  publicDecrypt,
  sign as oneShotSign,
  verify as oneShotVerify,
  Hash,
  Sign,
  Verify,
} from 'node:crypto';
import type { HashAlgo } from '../codec/hash-algo.js';
import type { DigestSigner, SigningKey } from './keys.js';
import { imaFileId } from '../codec/ima-value.js';
import { FormatError } from '../errors.js';

/**
 * DER of AlgorithmIdentifier OIDs for the DigestInfo RSA signs (with a NULL
 * parameter, as the kernel's pkcs1pad templates).
 */
const DIGEST_OIDS: Record<string, string> = {
  md5: '1.2.840.113549.2.5',
  sha1: '1.3.14.3.2.26',
  rmd160: '1.3.36.3.2.1',
  sha224: '2.16.840.1.101.3.4.2.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  'sha3-256': '2.16.840.1.101.3.4.2.8',
  'sha3-384': '2.16.840.1.101.3.4.2.9',
  'sha3-512': '2.16.840.1.101.3.4.2.10',
  sm3: '1.2.156.10197.1.401',
};

function encodeOid(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const n of parts.slice(2)) {
    const bytes = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return Buffer.from([0x06, out.length, ...out]);
}

function derSequence(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  if (body.length >= 128) throw new Error('DigestInfo too long');
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
}

/** DER DigestInfo { AlgorithmIdentifier { oid, NULL }, OCTET STRING digest }. */
export function digestInfo(algo: HashAlgo, digest: Buffer): Buffer {
  const oid = DIGEST_OIDS[algo.name];
  if (!oid) throw new FormatError(`RSA signatures with ${algo.name} are not supported`);
  const key = `${algo.name}:${digest.length}`;
  let prefix = digestInfoPrefixes.get(key);
  if (!prefix) {
    const whole = derSequence(
      derSequence(encodeOid(oid), Buffer.of(0x05, 0x00)),
      Buffer.concat([Buffer.of(0x04, digest.length), digest]),
    );
    prefix = whole.subarray(0, whole.length - digest.length);
    digestInfoPrefixes.set(key, prefix);
  }
  return Buffer.concat([prefix, digest]);
}
/** Everything of a DigestInfo before the digest, by algorithm and digest length: the same for every file. */
const digestInfoPrefixes = new Map<string, Buffer>();

export function isRsa(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'rsa';
}

/** RSASSA-PKCS1-v1_5 over a digest computed elsewhere: identical to `openssl dgst -sign`. */
export function rsaSignDigest(key: KeyObject, algo: HashAlgo, digest: Buffer): Buffer {
  return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo(algo, digest));
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'bad-signature' | 'digest-mismatch'; detail: string };

/** Checks an RSA signature against a digest, telling a changed file from a wrong key. */
export function rsaVerifyDigest(key: KeyObject, algo: HashAlgo, digest: Buffer, signature: Buffer): SignatureCheck {
  // publicDecrypt takes a signature shorter than the modulus as a number with leading zeros; the
  // kernel (pkcs1pad) and OpenSSL's RSA_verify refuse any length but the modulus size.
  const modulusBits = key.asymmetricKeyDetails?.modulusLength;
  if (modulusBits !== undefined && signature.length !== Math.ceil(modulusBits / 8)) {
    return {
      ok: false,
      reason: 'bad-signature',
      detail: `signature is ${signature.length} bytes, the ${modulusBits}-bit key needs ${Math.ceil(modulusBits / 8)}`,
    };
  }
  let recovered: Buffer;
  try {
    recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return { ok: false, reason: 'bad-signature', detail: 'signature does not verify with this key' };
  }
  const expected = digestInfo(algo, digest);
  if (recovered.equals(expected)) return { ok: true };
  const prefix = expected.subarray(0, expected.length - digest.length);
  if (recovered.length === expected.length && recovered.subarray(0, prefix.length).equals(prefix)) {
    return {
      ok: false,
      reason: 'digest-mismatch',
      detail: `file content differs from what was signed (${algo.name} of the file does not match the signed digest)`,
    };
  }
  return { ok: false, reason: 'bad-signature', detail: 'signature does not verify with this key' };
}

/** Something that takes the file's bytes as they stream past. */
export interface ContentSink {
  update(chunk: Buffer): void;
}

/**
 * Signs content as it streams. RSA v2 over content of at most 1 MiB is
 * signed by OpenSSL on the thread pool from a copy of the content
 * (finishAsync), which hashes it there: the digest is then computed here
 * only if asked for (digest()). Otherwise the content is hashed as it
 * streams, and ECDSA v2 also streams into a Sign object.
 */
export class ContentSigner implements ContentSink {
  private hash?: Hash;
  private readonly ecdsa?: Sign;
  private copy?: ContentCopy;
  private readonly key: KeyObject;
  /** A key on a token signs the digest there: the content is only hashed here. */
  private readonly token?: DigestSigner;
  constructor(
    key: KeyObject | SigningKey,
    private readonly algo: HashAlgo,
    private readonly version: 2 | 3,
    private readonly hashType: 0x03 | 0x06 = 0x03,
  ) {
    this.key = key instanceof KeyObject ? key : key.key;
    this.token = key instanceof KeyObject ? undefined : key.token;
    if (this.token) this.hash = createHash(algo.nodeName!);
    else {
      if (!isRsa(this.key) && version === 2) this.ecdsa = createSign(algo.nodeName!);
      if (onThreadPool(this.key, algo, version)) this.copy = new ContentCopy();
      else this.hash = createHash(algo.nodeName!);
    }
  }
  update(chunk: Buffer): void {
    this.ecdsa?.update(chunk);
    // Kept for the thread pool: hashed there (or here, later, if asked). Else hashed now.
    if (this.copy?.add(chunk)) return;
    this.hashing().update(chunk);
  }
  /** The hash, fed first with whatever the copy held: from here on the content is hashed as it streams. */
  private hashing(): Hash {
    if (!this.hash) {
      this.hash = createHash(this.algo.nodeName!);
      for (const part of this.copy?.parts ?? []) this.hash.update(part);
    }
    this.copy = undefined;
    return this.hash;
  }
  private digested?: Buffer;
  /** The content's digest (once every byte went through update). */
  digest(): Buffer {
    return (this.digested ??= this.hashing().digest());
  }
  /** The signature, made here. */
  finish(): { digest: Buffer; signature: Buffer } {
    if (this.token) throw new Error('a key on a token signs asynchronously: call finishAsync()');
    const digest = this.digest();
    if (this.version === 3) {
      // v3 signs a hash of struct ima_file_id, with the same algorithm.
      const fileId = imaFileId(this.hashType, this.algo, digest);
      if (isRsa(this.key))
        return {
          digest,
          signature: rsaSignDigest(this.key, this.algo, createHash(this.algo.nodeName!).update(fileId).digest()),
        };
      return { digest, signature: oneShotSign(this.algo.nodeName!, fileId, this.key) };
    }
    if (this.ecdsa) return { digest, signature: this.ecdsa.sign(this.key) };
    return { digest, signature: rsaSignDigest(this.key, this.algo, digest) };
  }

  /**
   * The signature, as finish(), but a key on a token signs there, and an
   * RSA v2 signature over content of at most 1 MiB is made on the thread
   * pool (crypto.sign with a callback: PKCS#1 v1.5 over the DigestInfo of
   * the content's hash, the same bytes as rsaSignDigest), and the content is not hashed here at all. An RSA-2048
   * private-key operation takes most of a millisecond: on the main thread it
   * was a quarter of `sign -r`'s time over small files and kept the other
   * cores idle (bench/bench.js, --cpu-prof); the hash here was another
   * sixtieth of it, for a digest nobody used.
   */
  async finishAsync(): Promise<{ signature: Buffer }> {
    if (this.token) {
      const digest = this.digest();
      // v3 signs a hash of struct ima_file_id, with the same algorithm.
      const signed =
        this.version === 3
          ? createHash(this.algo.nodeName!)
              .update(imaFileId(this.hashType, this.algo, digest))
              .digest()
          : digest;
      return { signature: await this.token.signDigest(this.algo, signed) };
    }
    const data = this.copy?.bytes();
    if (!data || !reservePoolBytes(data.length)) return this.finish();
    return { signature: await signOnPool(this.algo.nodeName!, data, this.key) };
  }
}

/**
 * Content handed to the thread pool and not yet signed, in bytes. OpenSSL keeps
 * its own copy until the signature is made, so with many files in flight
 * (--jobs) this is what grows: over budget, a file is signed here from its
 * digest instead (the same signature), and memory stays bounded.
 */
const POOL_BUDGET = 16 << 20;
let poolBytes = 0;

function reservePoolBytes(n: number): boolean {
  if (poolBytes > 0 && poolBytes + n > POOL_BUDGET) return false;
  poolBytes += n;
  return true;
}

function signOnPool(hashName: string, data: Buffer, key: KeyObject): Promise<Buffer> {
  const n = data.length;
  return new Promise<Buffer>((resolve, reject) => {
    try {
      oneShotSign(hashName, data, key, (e, sig) => {
        poolBytes -= n;
        if (e) reject(e);
        else resolve(sig);
      });
    } catch (e) {
      poolBytes -= n;
      reject(e);
    }
  });
}

/** Hashes whose DigestInfo OpenSSL builds exactly as digestInfo() does (with the NULL parameter, as the kernel). */
const POOL_ALGOS = new Set(['sha224', 'sha256', 'sha384', 'sha512']);
/** Content kept for the thread pool: up to this many bytes (a larger file is hashed once, here, instead). */
const KEEP_CONTENT = 1 << 20;

/** Whether an RSA v2 signature over this content can be made by OpenSSL on the thread pool. */
function onThreadPool(key: KeyObject, algo: HashAlgo, version: 2 | 3): boolean {
  return version === 2 && isRsa(key) && POOL_ALGOS.has(algo.name);
}

/**
 * A copy of the content while it is small enough to hand to the thread pool (a
 * sink must not keep the reader's buffer).
 */
class ContentCopy {
  readonly parts: Buffer[] = [];
  private kept = 0;
  /** Keeps a copy of the chunk; false, keeping nothing more, once the content would outgrow KEEP_CONTENT. */
  add(chunk: Buffer): boolean {
    if (this.kept + chunk.length > KEEP_CONTENT) return false;
    this.kept += chunk.length;
    this.parts.push(Buffer.from(chunk));
    return true;
  }
  bytes(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }
}

/**
 * Checks one signature as the content streams. RSA and v3 need only the
 * digest (computed once per algorithm by the caller); ECDSA v2 streams.
 */
export class ContentVerifier implements ContentSink {
  private readonly ecdsa?: Verify;
  constructor(
    private readonly key: KeyObject,
    private readonly algo: HashAlgo,
    private readonly version: 2 | 3,
    private readonly signature: Buffer,
    private readonly hashType: 0x03 | 0x06 = 0x03,
  ) {
    if (!isRsa(key) && version === 2) this.ecdsa = createVerify(algo.nodeName!);
  }
  get needsContent(): boolean {
    return this.ecdsa !== undefined;
  }
  update(chunk: Buffer): void {
    this.ecdsa?.update(chunk);
  }
  /** `digest` is the file's digest with this signature's algorithm. */
  finish(digest: Buffer): SignatureCheck {
    const bad = { ok: false, reason: 'bad-signature', detail: 'signature does not verify with this key' } as const;
    if (this.version === 3) {
      const fileId = imaFileId(this.hashType, this.algo, digest);
      if (isRsa(this.key)) {
        const check = rsaVerifyDigest(
          this.key,
          this.algo,
          createHash(this.algo.nodeName!).update(fileId).digest(),
          this.signature,
        );
        return check.ok ? check : bad; // v3 hides the digest behind a second hash: no finer reason.
      }
      return safeVerify(() => oneShotVerify(this.algo.nodeName!, fileId, this.key, this.signature))
        ? { ok: true }
        : bad;
    }
    if (this.ecdsa)
      return safeVerify(() => this.ecdsa!.verify(this.key, this.signature))
        ? { ok: true }
        : { ...bad, detail: 'signature does not verify with this key (or the file changed since signing)' };
    return rsaVerifyDigest(this.key, this.algo, digest, this.signature);
  }
}

function safeVerify(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false; // malformed DER signature: simply not valid
  }
}
