/**
 * PKCS#11 URIs (RFC 7512) naming a key on a token:
 * `pkcs11:token=...;object=...;type=private?pin-value=...`.
 * Parsing never touches a token; it gives the attributes decoded (percent
 * escapes as bytes, text as UTF-8) or a Pkcs11UriError saying what is wrong.
 * The PIN never appears in a message: `displayUri` drops it.
 */

/** Path attributes: what identifies the library, slot, token and object. */
const PATH_TEXT = [
  'token',
  'object',
  'manufacturer',
  'model',
  'serial',
  'library-manufacturer',
  'library-description',
  'library-version',
  'slot-manufacturer',
  'slot-description',
] as const;
type PathText = (typeof PATH_TEXT)[number];

/** Query attributes: how to reach and log in to the token. */
const QUERY = ['pin-value', 'pin-source', 'module-path', 'module-name'] as const;

export const OBJECT_TYPES = ['private', 'public', 'cert', 'secret-key', 'data'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

export interface Pkcs11Uri {
  /** Text attributes of the path, decoded; each present only when given (an empty value is a value). */
  readonly token?: string;
  readonly object?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly serial?: string;
  readonly 'library-manufacturer'?: string;
  readonly 'library-description'?: string;
  /** "M" or "M.N", as RFC 7512 writes library-version. */
  readonly 'library-version'?: { readonly major: number; readonly minor: number };
  readonly 'slot-manufacturer'?: string;
  readonly 'slot-description'?: string;
  /** CKA_ID: any bytes, usually percent-encoded. */
  readonly id?: Buffer;
  readonly type?: ObjectType;
  /** CK_SLOT_ID, a decimal number. */
  readonly slotId?: bigint;
  readonly pinValue?: string;
  /** A file the PIN is read from (the path of a `file:` URI, or a plain path). */
  readonly pinSource?: string;
  readonly modulePath?: string;
  readonly moduleName?: string;
}

/** A malformed URI; the message names the problem, never the PIN. */
export class Pkcs11UriError extends Error {
  override readonly name = 'Pkcs11UriError';
}

/** Whether a --key value is meant as a PKCS#11 URI (the scheme is case-insensitive, as in every URI). */
export function isPkcs11Uri(text: string): boolean {
  return /^pkcs11:/i.test(text);
}

/** Decodes percent escapes into bytes; other characters stand for their UTF-8 bytes. */
function percentDecode(value: string, what: string): Buffer {
  const parts: Buffer[] = [];
  let plain = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c !== '%') {
      plain += c;
      continue;
    }
    const hex = value.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Pkcs11UriError(`${what}: "%" must be followed by two hex digits`);
    if (plain) parts.push(Buffer.from(plain, 'utf8'));
    plain = '';
    parts.push(Buffer.of(parseInt(hex, 16)));
    i += 2;
  }
  if (plain) parts.push(Buffer.from(plain, 'utf8'));
  return Buffer.concat(parts);
}

function decodeText(value: string, what: string): string {
  const bytes = percentDecode(value, what);
  const text = bytes.toString('utf8');
  // Labels are UTF-8 (PKCS#11 CK_UTF8CHAR): bytes that are not would match no token anyway.
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Pkcs11UriError(`${what} is not valid UTF-8`);
  return text;
}

/** Splits `name=value` parts, refusing repeats and unknown names (a misspelt attribute must not be ignored). */
function attributes(part: string, sep: string, known: readonly string[], where: string): Map<string, string> {
  const out = new Map<string, string>();
  if (part === '') return out;
  for (const item of part.split(sep)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Pkcs11UriError(`${where} attribute "${item}" is not NAME=VALUE`);
    const name = item.slice(0, eq);
    // RFC 7512: vendor attributes start with "x-"; those we do not know are left alone.
    if (name.startsWith('x-')) continue;
    if (!known.includes(name)) throw new Pkcs11UriError(`unknown ${where} attribute "${name}"`);
    if (out.has(name)) throw new Pkcs11UriError(`${where} attribute "${name}" is given twice`);
    out.set(name, item.slice(eq + 1));
  }
  return out;
}

/** The path of a pin-source: a `file:` URI or a plain path; a command (`|prog`) is not run. */
function pinSourcePath(value: string): string {
  if (value.startsWith('|')) throw new Pkcs11UriError('pin-source: only a file is supported, not a command');
  const m = /^file:(?:\/\/(?:localhost)?)?(\/.*)$/i.exec(value);
  if (m) return m[1]!;
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) throw new Pkcs11UriError('pin-source: only file: sources are supported');
  if (value === '') throw new Pkcs11UriError('pin-source is empty');
  return value;
}

/** Parses a PKCS#11 URI; throws Pkcs11UriError and nothing else. */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!isPkcs11Uri(text)) throw new Pkcs11UriError('not a PKCS#11 URI (it must start with "pkcs11:")');
  const body = text.slice('pkcs11:'.length);
  if (body.includes('#')) throw new Pkcs11UriError('a PKCS#11 URI has no fragment ("#" must be written %23)');
  const q = body.indexOf('?');
  const pathPart = q === -1 ? body : body.slice(0, q);
  const queryPart = q === -1 ? '' : body.slice(q + 1);
  const path = attributes(pathPart, ';', [...PATH_TEXT, 'id', 'type', 'slot-id'], 'path');
  const query = attributes(queryPart, '&', QUERY, 'query');
  const uri: { -readonly [K in keyof Pkcs11Uri]: Pkcs11Uri[K] } = {};
  for (const name of PATH_TEXT) {
    const raw = path.get(name);
    if (raw === undefined) continue;
    if (name === 'library-version') {
      const v = decodeText(raw, name);
      const m = /^(\d{1,3})(?:\.(\d{1,3}))?$/.exec(v);
      if (!m) throw new Pkcs11UriError('library-version must be M or M.N');
      uri['library-version'] = { major: Number(m[1]), minor: Number(m[2] ?? 0) };
    } else uri[name as Exclude<PathText, 'library-version'>] = decodeText(raw, name);
  }
  const id = path.get('id');
  if (id !== undefined) uri.id = percentDecode(id, 'id');
  const type = path.get('type');
  if (type !== undefined) {
    const t = decodeText(type, 'type');
    if (!(OBJECT_TYPES as readonly string[]).includes(t))
      throw new Pkcs11UriError(`type must be one of ${OBJECT_TYPES.join(', ')}`);
    uri.type = t as ObjectType;
  }
  const slot = path.get('slot-id');
  if (slot !== undefined) {
    const s = decodeText(slot, 'slot-id');
    if (!/^\d{1,20}$/.test(s) || BigInt(s) > 0xffffffffffffffffn)
      throw new Pkcs11UriError('slot-id must be a decimal number');
    uri.slotId = BigInt(s);
  }
  const pin = query.get('pin-value');
  if (pin !== undefined) uri.pinValue = decodeText(pin, 'pin-value');
  const source = query.get('pin-source');
  if (source !== undefined) uri.pinSource = pinSourcePath(decodeText(source, 'pin-source'));
  if (uri.pinValue !== undefined && uri.pinSource !== undefined)
    throw new Pkcs11UriError('pin-value and pin-source cannot both be given');
  const modulePath = query.get('module-path');
  if (modulePath !== undefined) {
    uri.modulePath = decodeText(modulePath, 'module-path');
    if (!uri.modulePath.startsWith('/')) throw new Pkcs11UriError('module-path must be an absolute path');
  }
  const moduleName = query.get('module-name');
  if (moduleName !== undefined) {
    uri.moduleName = decodeText(moduleName, 'module-name');
    if (!/^[\w.+-]+$/.test(uri.moduleName)) throw new Pkcs11UriError('module-name must be a plain module name');
  }
  return uri;
}

/** Text with anything that looks like a pin-value's value masked: for what a mistyped URI puts elsewhere. */
export function scrubPin(text: string): string {
  return text.replace(/pin-value=[^&;]*/gi, 'pin-value=***');
}

/**
 * The URI as given, without its PIN: what messages and records name. The
 * pin-value attribute goes wherever it was put, and anything still looking
 * like one (a "?" typed for "&" makes it part of another value) is masked.
 */
export function displayUri(text: string): string {
  const scheme = isPkcs11Uri(text) ? text.slice(0, 'pkcs11:'.length) : '';
  const body = text.slice(scheme.length);
  const q = body.indexOf('?');
  const noPin = (a: string): boolean => !/^pin-value(=|$)/i.test(a);
  const path = (q === -1 ? body : body.slice(0, q)).split(';').filter(noPin).join(';');
  const query =
    q === -1
      ? undefined
      : body
          .slice(q + 1)
          .split('&')
          .filter(noPin)
          .join('&');
  return scrubPin(query ? `${scheme}${path}?${query}` : scheme + path);
}
