/**
 * A private key on a PKCS#11 token, named by a pkcs11: URI: finding the
 * token and the key, logging in once, and signing digests there (RSA with
 * CKM_RSA_PKCS over the DigestInfo, ECDSA with CKM_ECDSA, its raw r||s made
 * DER), one session per signature in flight.
 *
 * Every failure before signing is a ConfigError naming the URI without its
 * PIN, so the command stops with exit 2 before any file is touched. A probe
 * signature, checked with the public key, makes a key that cannot sign (a
 * mechanism the token or the key refuses, a public key that is not the key's)
 * fail there too. A token that fails later fails each signature still asked
 * for with the same reason.
 */
import { createHash, createPublicKey, KeyObject, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BitString, fromBER, ObjectIdentifier, Sequence } from 'asn1js';
import type { HashAlgo } from '../codec/hash-algo.js';
import { hashAlgoByName } from '../codec/hash-algo.js';
import { ConfigError, describeSystemError } from '../errors.js';
import { Certificate, parseCertificateDer } from './certificate.js';
import { classifyKey, DigestSigner, SigningKey } from './keys.js';
import { firstLine, openModule, Pkcs11Api, Pkcs11Binding, resolveModulePath } from './pkcs11-module.js';
import { displayUri, parsePkcs11Uri, Pkcs11Uri, Pkcs11UriError } from './pkcs11-uri.js';
import { digestInfo } from './signature.js';

// PKCS#11 constants (pkcs11t.h), kept here so that nothing but signing needs pkcs11js.
const CKF_SERIAL_SESSION = 0x4;
const CKU_USER = 1;
const CKU_CONTEXT_SPECIFIC = 2;
const CKO_CERTIFICATE = 1;
const CKO_PUBLIC_KEY = 2;
const CKO_PRIVATE_KEY = 3;
const CKK_RSA = 0;
const CKK_EC = 3;
const CKA_CLASS = 0x0;
const CKA_VALUE = 0x11;
const CKA_LABEL = 0x3;
const CKA_KEY_TYPE = 0x100;
const CKA_ID = 0x102;
const CKA_SIGN = 0x108;
const CKA_MODULUS = 0x120;
const CKA_PUBLIC_EXPONENT = 0x122;
const CKA_EC_PARAMS = 0x180;
const CKA_EC_POINT = 0x181;
const CKA_ALWAYS_AUTHENTICATE = 0x202;
const CKM_RSA_PKCS = 0x1;
const CKM_ECDSA = 0x1041;
const CKF_SIGN = 0x800;
const CKF_LOGIN_REQUIRED = 0x4;
const CKF_USER_PIN_INITIALIZED = 0x8;
const CKF_PROTECTED_AUTHENTICATION_PATH = 0x100;
const CKF_USER_PIN_LOCKED = 0x40000;
const CKF_USER_PIN_TO_BE_CHANGED = 0x80000;

/** Signatures in flight on one token at most: each has its own session, and runs on the thread pool. */
const MAX_SESSIONS = 4;

/** What a token's error codes mean to the person who typed the URI. */
const REASONS: Record<string, string> = {
  CKR_PIN_INCORRECT: 'wrong PIN (CKR_PIN_INCORRECT); not retried',
  CKR_PIN_INVALID: 'the PIN has characters the token does not take (CKR_PIN_INVALID)',
  CKR_PIN_LEN_RANGE: 'the PIN is too long or too short for the token (CKR_PIN_LEN_RANGE)',
  CKR_PIN_LOCKED: 'the PIN is locked (CKR_PIN_LOCKED): unlock it with the SO PIN',
  CKR_PIN_EXPIRED: 'the PIN has expired (CKR_PIN_EXPIRED): change it first',
  CKR_USER_PIN_NOT_INITIALIZED: 'the token has no user PIN yet (CKR_USER_PIN_NOT_INITIALIZED)',
  CKR_TOKEN_NOT_PRESENT: 'the token is not present (CKR_TOKEN_NOT_PRESENT)',
  CKR_DEVICE_REMOVED: 'the token was removed (CKR_DEVICE_REMOVED)',
  CKR_DEVICE_ERROR: 'the token failed (CKR_DEVICE_ERROR)',
  CKR_MECHANISM_INVALID: 'the token cannot sign with this mechanism (CKR_MECHANISM_INVALID)',
  CKR_KEY_FUNCTION_NOT_PERMITTED: 'the key may not sign (CKR_KEY_FUNCTION_NOT_PERMITTED)',
  CKR_KEY_TYPE_INCONSISTENT: 'the key does not fit the mechanism (CKR_KEY_TYPE_INCONSISTENT)',
  CKR_USER_NOT_LOGGED_IN: 'the token logged out (CKR_USER_NOT_LOGGED_IN)',
};

/** Codes after which the token cannot sign any more in this process: the signatures still asked for fail at once. */
const FATAL = new Set([
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_DEVICE_ERROR',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_GENERAL_ERROR',
  'CKR_SESSION_COUNT',
]);

function reasonOf(e: unknown): string {
  const code = firstLine(e);
  return REASONS[code] ?? code;
}

function trimField(s: string): string {
  return s.replace(/[\s\0]+$/, '');
}

/** A PKCS#11 URI for an object of this token, for messages and as a certificate's source. */
function objectUri(token: string, id: Buffer | undefined, label: string | undefined, type: string): string {
  const enc = (s: string): string =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  const parts = [`token=${enc(token)}`];
  if (label !== undefined) parts.push(`object=${enc(label)}`);
  if (id !== undefined && id.length > 0)
    parts.push(`id=${[...id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`);
  parts.push(`type=${type}`);
  return `pkcs11:${parts.join(';')}`;
}

export interface TokenKeyOptions {
  /** PKCS11_MODULE_PATH and IMA_SIDECAR_PKCS11_PIN come from here (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Certificates given with --cert: an EC key without a public key object on the token takes its key from one. */
  readonly certificates?: readonly Certificate[];
  /** How pkcs11js is reached (tests wrap it). */
  readonly binding?: Pkcs11Binding;
}

export interface TokenKey {
  readonly key: SigningKey;
  /** The certificate object on the token with the key's CKA_ID, when there is one. */
  readonly certificate?: Certificate;
}

/** Loads the key a pkcs11: URI names; ConfigError (naming the URI without the PIN) for every failure. */
export async function loadTokenKey(text: string, opts: TokenKeyOptions = {}): Promise<TokenKey> {
  const shown = displayUri(text);
  const env = opts.env ?? process.env;
  let uri: Pkcs11Uri;
  try {
    uri = parsePkcs11Uri(text);
  } catch (e) {
    if (e instanceof Pkcs11UriError) throw new ConfigError(`${shown}: ${e.message}`);
    throw e;
  }
  if (uri.type !== undefined && uri.type !== 'private')
    throw new ConfigError(`${shown}: type=${uri.type} names no private key (use type=private, or leave type out)`);
  const pin = await pinFor(uri, shown, env);
  const api = await openModule(resolveModulePath(uri, shown, env), shown, opts.binding);
  try {
    return await loadFrom(api, uri, shown, pin, opts.certificates ?? []);
  } catch (e) {
    // Whatever the module throws is said in one line naming the URI, never as an internal error.
    throw e instanceof ConfigError ? e : new ConfigError(`${shown}: ${reasonOf(e)}`);
  }
}

async function loadFrom(
  api: Pkcs11Api,
  uri: Pkcs11Uri,
  shown: string,
  pin: string | undefined,
  given: readonly Certificate[],
): Promise<TokenKey> {
  const slot = findSlot(api, uri, shown);
  const info = api.C_GetTokenInfo(slot);
  const label = trimField(info.label);
  const session = openSession(api, slot, shown);
  let handedOver = false;
  try {
    login(api, session, info.flags, pin, shown);
    const handle = findPrivateKey(api, session, uri, shown);
    const attrs = new ObjectAttributes(api, session);
    const id = attrs.get(handle, CKA_ID);
    const objectLabel = attrs.get(handle, CKA_LABEL)?.toString('utf8');
    const keyUri = objectUri(label, id, objectLabel, 'private');
    if (attrs.get(handle, CKA_SIGN)?.[0] === 0)
      throw new ConfigError(`${shown}: the key may not sign (CKA_SIGN is false)`);
    const certificate = await tokenCertificate(api, session, id, objectLabel, label);
    const publicKey = await publicKeyOf(attrs, api, session, handle, id, certificate, given, shown);
    const kind = classifyKey(publicKey);
    if ('refused' in kind) throw new ConfigError(`${shown}: ${kind.refused}`);
    const mechanism = kind.algorithm === 'rsa' ? CKM_RSA_PKCS : CKM_ECDSA;
    requireMechanism(api, slot, mechanism, shown);
    const signer = new TokenSigner(api, slot, session, handle, {
      shown,
      mechanism,
      rsa: kind.algorithm === 'rsa',
      bits: kind.bits,
      // A key marked always-authenticate takes the PIN again before each signature (a context-specific login).
      alwaysAuthenticate: attrs.get(handle, CKA_ALWAYS_AUTHENTICATE)?.[0] === 1 ? pin : undefined,
      maxSessions: sessionLimit(info.maxSessionCount),
    });
    await signer.probe(publicKey);
    handedOver = true;
    const key: SigningKey = { path: keyUri, key: publicKey, algorithm: kind.algorithm, bits: kind.bits, token: signer };
    return { key, certificate };
  } finally {
    // The login lasts while any session of the token is open: the first one stays, as the signer's.
    if (!handedOver) closeQuietly(api, session);
  }
}

/** The PIN from the URI, its pin-source file, or IMA_SIDECAR_PKCS11_PIN; undefined when none is given. */
async function pinFor(uri: Pkcs11Uri, shown: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinSource !== undefined) {
    try {
      // As for --pass-file: the first line is the PIN.
      return (await readFile(uri.pinSource, 'utf8')).split(/\r?\n/)[0] ?? '';
    } catch (e) {
      throw new ConfigError(`${shown}: cannot read pin-source ${uri.pinSource}: ${describeSystemError(e)}`);
    }
  }
  return env.IMA_SIDECAR_PKCS11_PIN;
}

function findSlot(api: Pkcs11Api, uri: Pkcs11Uri, shown: string): Buffer {
  let library;
  try {
    library = api.C_GetInfo();
  } catch (e) {
    throw new ConfigError(`${shown}: the PKCS#11 module does not answer: ${reasonOf(e)}`);
  }
  const libraryMatches =
    (uri['library-manufacturer'] === undefined || trimField(library.manufacturerID) === uri['library-manufacturer']) &&
    (uri['library-description'] === undefined ||
      trimField(library.libraryDescription) === uri['library-description']) &&
    (uri['library-version'] === undefined ||
      (library.libraryVersion.major === uri['library-version'].major &&
        library.libraryVersion.minor === uri['library-version'].minor));
  let slots: Buffer[];
  try {
    slots = libraryMatches ? api.C_GetSlotList(true) : [];
  } catch (e) {
    throw new ConfigError(`${shown}: cannot list the module's slots: ${reasonOf(e)}`);
  }
  const seen: string[] = [];
  const matching = slots.filter((slot) => {
    let t, s;
    try {
      t = api.C_GetTokenInfo(slot);
      s = api.C_GetSlotInfo(slot);
    } catch {
      return false; // a slot whose token went away while listing
    }
    const label = trimField(t.label);
    seen.push(JSON.stringify(label));
    const want: [string | undefined, string][] = [
      [uri.token, label],
      [uri.manufacturer, trimField(t.manufacturerID)],
      [uri.model, trimField(t.model)],
      [uri.serial, trimField(t.serialNumber)],
      [uri['slot-manufacturer'], trimField(s.manufacturerID)],
      [uri['slot-description'], trimField(s.slotDescription)],
    ];
    if (uri.slotId !== undefined && slotId(slot) !== uri.slotId) return false;
    return want.every(([w, have]) => w === undefined || w === have);
  });
  if (matching.length === 0) {
    const tokens = seen.length ? `tokens present: ${seen.join(', ')}` : 'no token is present';
    throw new ConfigError(`${shown}: no such token (${tokens})`);
  }
  if (matching.length > 1)
    throw new ConfigError(`${shown}: ${matching.length} tokens match; name one with token= or serial=`);
  return matching[0]!;
}

/** CK_SLOT_ID from pkcs11js's handle (a CK_ULONG in the machine's byte order). */
function slotId(slot: Buffer): bigint {
  if (slot.length === 8) return slot.readBigUInt64LE(0);
  if (slot.length === 4) return BigInt(slot.readUInt32LE(0));
  return -1n;
}

function openSession(api: Pkcs11Api, slot: Buffer, shown: string): Buffer {
  try {
    return api.C_OpenSession(slot, CKF_SERIAL_SESSION);
  } catch (e) {
    throw new ConfigError(`${shown}: cannot open a session: ${reasonOf(e)}`);
  }
}

function closeQuietly(api: Pkcs11Api, session: Buffer): void {
  try {
    api.C_CloseSession(session);
  } catch {
    /* already gone with the token */
  }
}

/** One login, with the PIN given: never retried, since a wrong PIN counts towards locking the token. */
function login(api: Pkcs11Api, session: Buffer, flags: number, pin: string | undefined, shown: string): void {
  if (flags & CKF_USER_PIN_LOCKED) throw new ConfigError(`${shown}: ${REASONS.CKR_PIN_LOCKED}`);
  if (flags & CKF_USER_PIN_TO_BE_CHANGED) throw new ConfigError(`${shown}: ${REASONS.CKR_PIN_EXPIRED}`);
  const needed = (flags & CKF_LOGIN_REQUIRED) !== 0;
  if (!needed && pin === undefined) return;
  if (needed && !(flags & CKF_USER_PIN_INITIALIZED))
    throw new ConfigError(`${shown}: ${REASONS.CKR_USER_PIN_NOT_INITIALIZED}`);
  const pinPad = (flags & CKF_PROTECTED_AUTHENTICATION_PATH) !== 0;
  if (pin === undefined && !pinPad)
    throw new ConfigError(
      `${shown}: the token needs a PIN: give pin-value or pin-source in the URI, or set IMA_SIDECAR_PKCS11_PIN`,
    );
  try {
    api.C_Login(session, CKU_USER, pin);
  } catch (e) {
    if (firstLine(e) === 'CKR_USER_ALREADY_LOGGED_IN') return;
    throw new ConfigError(`${shown}: ${reasonOf(e)}`);
  }
}

function findObjects(
  api: Pkcs11Api,
  session: Buffer,
  template: { type: number; value: number | string | Buffer }[],
): Buffer[] {
  api.C_FindObjectsInit(session, template);
  try {
    return api.C_FindObjects(session, 16);
  } finally {
    api.C_FindObjectsFinal(session);
  }
}

function findPrivateKey(api: Pkcs11Api, session: Buffer, uri: Pkcs11Uri, shown: string): Buffer {
  const template: { type: number; value: number | string | Buffer }[] = [{ type: CKA_CLASS, value: CKO_PRIVATE_KEY }];
  if (uri.object !== undefined) template.push({ type: CKA_LABEL, value: uri.object });
  if (uri.id !== undefined) template.push({ type: CKA_ID, value: uri.id });
  let found: Buffer[];
  try {
    found = findObjects(api, session, template);
  } catch (e) {
    throw new ConfigError(`${shown}: cannot search the token: ${reasonOf(e)}`);
  }
  if (found.length === 0) throw new ConfigError(`${shown}: no such object: no private key on the token matches`);
  if (found.length > 1)
    throw new ConfigError(`${shown}: ${found.length} private keys match; name one with object= or id=`);
  return found[0]!;
}

/** Attributes one at a time: asking for one the object lacks fails the whole C_GetAttributeValue. */
class ObjectAttributes {
  constructor(
    private readonly api: Pkcs11Api,
    private readonly session: Buffer,
  ) {}
  get(object: Buffer, type: number): Buffer | undefined {
    try {
      return this.api.C_GetAttributeValue(this.session, object, [{ type }])[0]?.value;
    } catch {
      return undefined;
    }
  }
}

/** The certificate object with the key's CKA_ID (or, for a key without one, its label). */
async function tokenCertificate(
  api: Pkcs11Api,
  session: Buffer,
  id: Buffer | undefined,
  label: string | undefined,
  token: string,
): Promise<Certificate | undefined> {
  const template: { type: number; value: number | string | Buffer }[] = [{ type: CKA_CLASS, value: CKO_CERTIFICATE }];
  if (id !== undefined && id.length > 0) template.push({ type: CKA_ID, value: id });
  else if (label !== undefined) template.push({ type: CKA_LABEL, value: label });
  else return undefined;
  let found: Buffer[];
  try {
    found = findObjects(api, session, template);
  } catch {
    return undefined;
  }
  const der = found.length === 1 ? new ObjectAttributes(api, session).get(found[0]!, CKA_VALUE) : undefined;
  if (!der) return undefined;
  return parseCertificateDer(Buffer.from(der), objectUri(token, id, label, 'cert'));
}

/** The key's public half: RSA from the private key's own attributes; EC from a public key object or certificate. */
async function publicKeyOf(
  attrs: ObjectAttributes,
  api: Pkcs11Api,
  session: Buffer,
  handle: Buffer,
  id: Buffer | undefined,
  certificate: Certificate | undefined,
  given: readonly Certificate[],
  shown: string,
): Promise<KeyObject> {
  const type = attrs.get(handle, CKA_KEY_TYPE);
  const keyType = type && type.length >= 4 ? type.readUInt32LE(0) : undefined;
  if (keyType === CKK_RSA) {
    const n = attrs.get(handle, CKA_MODULUS);
    const e = attrs.get(handle, CKA_PUBLIC_EXPONENT);
    if (n && e) return createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
  } else if (keyType !== CKK_EC) {
    throw new ConfigError(`${shown}: the key is neither RSA nor EC (CKA_KEY_TYPE ${keyType ?? 'unknown'})`);
  }
  // A public key object with the same CKA_ID holds the point (an EC private key does not).
  if (id !== undefined && id.length > 0) {
    const pub = findObjects(api, session, [
      { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
      { type: CKA_ID, value: id },
    ]);
    if (pub.length === 1) {
      const fromObject = keyFromPublicObject(attrs, pub[0]!, keyType === CKK_EC);
      if (fromObject) return fromObject;
    }
  }
  if (certificate) return certificate.publicKey;
  // The probe signature checks this key against the token before anything is signed.
  if (given.length === 1) return given[0]!.publicKey;
  throw new ConfigError(
    `${shown}: no public key for the key: no public key or certificate object with its id on the token; give --cert`,
  );
}

function keyFromPublicObject(attrs: ObjectAttributes, object: Buffer, ec: boolean): KeyObject | undefined {
  try {
    if (!ec) {
      const n = attrs.get(object, CKA_MODULUS);
      const e = attrs.get(object, CKA_PUBLIC_EXPONENT);
      return n && e ? createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' }) : undefined;
    }
    const params = attrs.get(object, CKA_EC_PARAMS);
    const point = attrs.get(object, CKA_EC_POINT);
    if (!params || !point) return undefined;
    return createPublicKey({ key: ecSpki(params, point), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/** SubjectPublicKeyInfo of an EC key from CKA_EC_PARAMS and CKA_EC_POINT (DER OCTET STRING, or the bare point). */
function ecSpki(params: Buffer, point: Buffer): Buffer {
  let bare = point;
  const wrapped = fromBER(new Uint8Array(point));
  // PKCS#11 wraps the point in an OCTET STRING; some tokens give it bare (it starts with 0x04, as an OCTET STRING tag).
  if (wrapped.offset === point.length && point[0] === 0x04 && 'valueHexView' in wrapped.result.valueBlock) {
    const inner = Buffer.from((wrapped.result.valueBlock as { valueHexView: Uint8Array }).valueHexView);
    if (inner[0] === 0x04 && inner.length % 2 === 1) bare = inner;
  }
  const parameters = fromBER(new Uint8Array(params)).result;
  const spki = new Sequence({
    value: [
      new Sequence({ value: [new ObjectIdentifier({ value: '1.2.840.10045.2.1' }), parameters] }),
      new BitString({ valueHex: new Uint8Array(bare) }),
    ],
  });
  return Buffer.from(spki.toBER(false));
}

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

function requireMechanism(api: Pkcs11Api, slot: Buffer, mechanism: number, shown: string): void {
  const name = mechanism === CKM_RSA_PKCS ? 'CKM_RSA_PKCS' : 'CKM_ECDSA';
  let flags = 0;
  try {
    if (api.C_GetMechanismList(slot).includes(mechanism)) flags = api.C_GetMechanismInfo(slot, mechanism).flags;
  } catch (e) {
    throw new ConfigError(`${shown}: cannot list the token's mechanisms: ${reasonOf(e)}`);
  }
  if (!(flags & CKF_SIGN)) throw new ConfigError(`${shown}: the token cannot sign with ${name}`);
}

/** CK_EFFECTIVELY_INFINITE (0) and CK_UNAVAILABLE_INFORMATION (all ones) set no limit of their own. */
function sessionLimit(max: number): number {
  return max > 0 && max < MAX_SESSIONS ? max : MAX_SESSIONS;
}

interface SignerSettings {
  readonly shown: string;
  readonly mechanism: number;
  readonly rsa: boolean;
  readonly bits: number;
  readonly alwaysAuthenticate?: string;
  readonly maxSessions: number;
}

/** Signs digests with the key on the token; each signature in flight has a session of its own. */
class TokenSigner implements DigestSigner {
  private readonly idle: Buffer[];
  private open = 1;
  private readonly waiting: ((s: Buffer) => void)[] = [];
  private broken?: string;

  constructor(
    private readonly api: Pkcs11Api,
    private readonly slot: Buffer,
    first: Buffer,
    private readonly handle: Buffer,
    private readonly s: SignerSettings,
  ) {
    this.idle = [first];
  }

  /** One signature before any file, checked with the public key: a key that cannot sign fails here. */
  async probe(publicKey: KeyObject): Promise<void> {
    const data = Buffer.from('ima-sidecar: can this token key sign?');
    const sha256 = hashAlgoByName('sha256')!;
    let signature: Buffer;
    try {
      signature = await this.signDigest(sha256, createHash('sha256').update(data).digest());
    } catch (e) {
      throw e instanceof ConfigError ? e : new ConfigError(`${this.s.shown}: ${reasonOf(e)}`);
    }
    if (!verify('sha256', data, publicKey, signature))
      throw new ConfigError(`${this.s.shown}: the token's signature does not verify with the key's public key`);
  }

  async signDigest(algo: HashAlgo, digest: Buffer): Promise<Buffer> {
    if (this.broken) throw new ConfigError(`${this.s.shown}: not signed: the token failed earlier: ${this.broken}`);
    const input = this.s.rsa ? digestInfo(algo, digest) : this.ecdsaInput(digest);
    const session = await this.acquire();
    let healthy = true;
    try {
      this.api.C_SignInit(session, { mechanism: this.s.mechanism }, this.handle);
      if (this.s.alwaysAuthenticate !== undefined)
        this.api.C_Login(session, CKU_CONTEXT_SPECIFIC, this.s.alwaysAuthenticate);
      const out = await this.api.C_SignAsync(session, input, Buffer.alloc(this.s.rsa ? 1024 : 264));
      return this.s.rsa ? Buffer.from(out) : rawToDer(out);
    } catch (e) {
      const code = firstLine(e);
      // A session whose operation failed may still hold it: it is closed rather than reused.
      healthy = false;
      if (FATAL.has(code)) this.broken ??= reasonOf(e);
      throw new ConfigError(`${this.s.shown}: not signed: ${reasonOf(e)}`);
    } finally {
      this.release(session, healthy);
    }
  }

  /** CKM_ECDSA signs what it is given: a digest longer than the order is cut to its leftmost bytes, as X9.62 says. */
  private ecdsaInput(digest: Buffer): Buffer {
    const orderBytes = Math.ceil(this.s.bits / 8);
    return this.s.bits % 8 === 0 && digest.length > orderBytes ? digest.subarray(0, orderBytes) : digest;
  }

  private async acquire(): Promise<Buffer> {
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.open < this.s.maxSessions) {
      this.open++;
      try {
        return this.api.C_OpenSession(this.slot, CKF_SERIAL_SESSION);
      } catch (e) {
        this.open--;
        if (this.open === 0) throw e;
      }
    }
    return new Promise<Buffer>((resolve) => this.waiting.push(resolve));
  }

  private release(session: Buffer, healthy: boolean): void {
    if (!healthy) {
      // Keep the last session open: closing it would end the login.
      if (this.open > 1) {
        closeQuietly(this.api, session);
        this.open--;
        return;
      }
    }
    const next = this.waiting.shift();
    if (next) next(session);
    else this.idle.push(session);
  }
}

/** CKM_ECDSA gives r||s, each as long as the order: X9.62 wants DER SEQUENCE { INTEGER r, INTEGER s }. */
export function rawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2)
    throw new ConfigError(`the token returned a ${raw.length}-byte ECDSA signature`);
  const half = raw.length / 2;
  const int = (b: Buffer): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    const body = v[0]! & 0x80 ? Buffer.concat([Buffer.of(0), v]) : v;
    return Buffer.concat([Buffer.of(0x02), derLength(body.length), body]);
  };
  const body = Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]);
  return Buffer.concat([Buffer.of(0x30), derLength(body.length), body]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  if (n < 0x100) return Buffer.of(0x81, n);
  return Buffer.of(0x82, n >> 8, n & 0xff);
}
