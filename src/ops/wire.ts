/**
 * What crosses between threads: a target as a path and the directory
 * descriptor it is reached through, certificates as DER, results as plain
 * data (the structured clone turns Buffers into Uint8Arrays and hash
 * algorithms into copies: revived here).
 */
import { hashAlgoById } from '../codec/hash-algo.js';
import { parseCertificateDer, type Certificate } from '../crypto/certificate.js';
import type { FileResult } from './result.js';
import type { TargetSelection } from './tree.js';

export interface WireTarget {
  readonly path: string;
  readonly rel: string;
  /** The directory the walk holds open, as fs-path keys and reaches it. */
  readonly held?: { readonly key: string; readonly fd: number };
}

export function targetToWire(sel: TargetSelection): WireTarget {
  return { path: sel.path, rel: sel.rel, ...(sel.pinned ? { held: { key: sel.pinned.key, fd: sel.pinned.fd } } : {}) };
}

export interface WireCertificate {
  readonly der: Uint8Array;
  readonly source: string;
}

/** An operation's options as sent to a worker: the same, with certificates as DER. */
export type WireOptions<T extends { readonly certs?: readonly Certificate[] }> = Omit<T, 'certs'> & {
  readonly certs?: WireCertificate[];
};

export function optionsToWire<T extends { readonly certs?: readonly Certificate[] }>(opts: T): WireOptions<T> {
  const { certs, ...rest } = opts;
  return { ...rest, certs: certs?.map((c) => ({ der: c.der, source: c.source })) };
}

/** The options back, certificates parsed again (a KeyObject does not cross threads as part of plain data). */
export async function optionsFromWire<T extends { readonly certs?: readonly Certificate[] }>(
  wire: WireOptions<T>,
): Promise<T> {
  const certs =
    wire.certs &&
    (await Promise.all(
      wire.certs.map((c) =>
        parseCertificateDer(Buffer.from(c.der.buffer, c.der.byteOffset, c.der.byteLength), c.source),
      ),
    ));
  return { ...wire, certs } as unknown as T;
}

/** Uint8Arrays back to Buffers (without copying), hash algorithms back to the table's objects. */
function revive(x: unknown): unknown {
  if (x instanceof Uint8Array) return Buffer.isBuffer(x) ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (Array.isArray(x)) return x.map(revive);
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = revive(v);
    return out;
  }
  return x;
}

export function reviveResult(raw: unknown): FileResult {
  const r = revive(raw) as FileResult & { decoded?: { algo?: { id: number } } };
  if (r.decoded?.algo) (r.decoded as { algo: unknown }).algo = hashAlgoById(r.decoded.algo.id) ?? r.decoded.algo;
  return r;
}
