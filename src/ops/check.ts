/**
 * Checking security.ima values against a file's content: the file is read
 * once, whatever the number of values, algorithms and certificates.
 */
import { canCompute, HashAlgo } from '../codec/hash-algo.js';
import { ImaValue } from '../codec/ima-value.js';
import type { Target } from '../carriers/target.js';
import type { Certificate } from '../crypto/certificate.js';
import { DigestSink, ONE_READ, streamHandle, streamSmallSync } from '../crypto/digest.js';
import { ContentSink, ContentVerifier, SignatureCheck } from '../crypto/signature.js';
import { tryDecode } from './result.js';

export type CarrierName = 'sidecar' | 'xattr' | 'appended';

export interface CarrierValue {
  readonly carrier: CarrierName;
  readonly bytes: Buffer;
}

export interface CarrierCheck {
  readonly carrier: CarrierName;
  /** ok: verified; failed: checked and wrong (or cannot be checked); invalid: malformed. */
  readonly status: 'ok' | 'failed' | 'invalid';
  readonly reason?: string;
  readonly value: Buffer;
  readonly decoded?: ImaValue;
  readonly warnings?: string[];
  /** For signatures: the certificate that verified it. */
  readonly signer?: string;
}

interface Plan {
  readonly cv: CarrierValue;
  readonly decoded?: ImaValue;
  readonly warnings?: string[];
  readonly early?: Omit<CarrierCheck, 'carrier' | 'value'>;
  readonly verifiers: { cert: Certificate; verifier: ContentVerifier }[];
}

/**
 * Certificates the kernel would find for a keyid: by the SKID's tail, or, for a
 * certificate without SKID, by the tail of serial || issuer (x509_cert_parser.c);
 * evmctl's computed keyid is accepted too, so evmctl's own sidecars verify.
 */
export function certificatesFor(keyid: string, certs: readonly Certificate[]): Certificate[] {
  return certs.filter((c) => c.keyid === keyid || (c.keyidSource === 'computed' && c.issuerKeyid === keyid));
}

export interface CheckPlan {
  /** What must see the file's bytes (empty when nothing needs the content). */
  readonly sinks: readonly ContentSink[];
  /** The verdicts, once every byte went through the sinks. */
  finish(): CarrierCheck[];
}

/**
 * Plans the checks of several values so that one pass over the content serves
 * them all; `certs` may be empty when only digests are to be checked.
 */
export function planChecks(values: readonly CarrierValue[], certs: readonly Certificate[]): CheckPlan {
  const digests = new Map<string, DigestSink>();
  const needDigest = (algo: HashAlgo): void => {
    if (!digests.has(algo.name)) digests.set(algo.name, new DigestSink(algo));
  };
  const plans: Plan[] = [];
  const byBytes = new Map<string, Plan>();
  for (const cv of values) {
    // The same bytes in two carriers are checked once (one value, the common case, needs no key).
    const key = values.length > 1 ? cv.bytes.toString('hex') : '';
    const same = byBytes.get(key);
    if (same) {
      plans.push({ ...same, cv });
      continue;
    }
    const plan = planOne(cv, certs, needDigest);
    byBytes.set(key, plan);
    plans.push(plan);
  }
  const sinks: ContentSink[] = [...digests.values()];
  for (const p of plans)
    for (const v of p.verifiers) if (v.verifier.needsContent && !sinks.includes(v.verifier)) sinks.push(v.verifier);
  const finish = (): CarrierCheck[] => {
    const computed = new Map<string, Buffer>();
    for (const [name, sink] of digests) computed.set(name, sink.digest());
    const finished = new Map<ContentVerifier, SignatureCheck>();
    return plans.map((p) => {
      const base = { carrier: p.cv.carrier, value: p.cv.bytes, decoded: p.decoded, warnings: p.warnings };
      if (p.early) return { ...base, ...p.early };
      const value = p.decoded!;
      const digest = computed.get(value.algo.name)!;
      if (value.kind === 'digest') {
        return value.digest.equals(digest)
          ? { ...base, status: 'ok' as const }
          : {
              ...base,
              status: 'failed' as const,
              reason:
                `digest mismatch: ${value.algo.name} of the file is ${digest.toString('hex')}, ` +
                `the value holds ${value.digest.toString('hex')}`,
            };
      }
      let last: SignatureCheck | undefined;
      for (const { cert, verifier } of p.verifiers) {
        const check = finished.get(verifier) ?? verifier.finish(digest);
        finished.set(verifier, check);
        if (check.ok) return { ...base, status: 'ok' as const, signer: cert.source };
        if (!last || check.reason === 'digest-mismatch') last = check;
      }
      const detail = last && !last.ok ? last.detail : 'signature does not verify';
      const reason =
        last && !last.ok && last.reason === 'digest-mismatch'
          ? `digest mismatch: ${detail}`
          : `bad signature: ${detail} (keyid ${value.keyid})`;
      return { ...base, status: 'failed' as const, reason };
    });
  };
  return { sinks, finish };
}

/**
 * Checks each value against the open target's content, reading it once (and
 * not at all when nothing needs it). Synchronous, a plain array, when nothing
 * needs the content or the file is smaller than one read (streamSmallSync).
 */
export function checkValues(
  t: Target,
  values: readonly CarrierValue[],
  certs: readonly Certificate[],
): CarrierCheck[] | Promise<CarrierCheck[]> {
  const plan = planChecks(values, certs);
  if (plan.sinks.length === 0 || (t.stat.size < ONE_READ && streamSmallSync(t.handle.fd, plan.sinks) !== undefined))
    return plan.finish();
  return streamHandle(t.handle, plan.sinks).then(() => plan.finish());
}

function planOne(cv: CarrierValue, certs: readonly Certificate[], needDigest: (a: HashAlgo) => void): Plan {
  const d = tryDecode(cv.bytes);
  if ('error' in d) return { cv, early: { status: 'invalid', reason: `malformed value: ${d.error}` }, verifiers: [] };
  const value = d.value;
  const base = { cv, decoded: value, warnings: d.warnings };
  if (!canCompute(value.algo)) {
    return {
      ...base,
      early: { status: 'failed', reason: `hash algorithm ${value.algo.name} cannot be computed here` },
      verifiers: [],
    };
  }
  if (value.kind === 'digest') {
    needDigest(value.algo);
    return { ...base, verifiers: [] };
  }
  if (value.type === 0x06) {
    return {
      ...base,
      early: {
        status: 'failed',
        reason:
          'fs-verity signatures (0x06) are checked by the kernel against the fs-verity digest; not checkable here',
      },
      verifiers: [],
    };
  }
  const named = certificatesFor(value.keyid, certs);
  const matching = named.filter((c) => c.algorithm !== undefined);
  if (named.length > 0 && matching.length === 0) {
    const types = [...new Set(named.map((c) => c.publicKey.asymmetricKeyType ?? 'unknown'))].join(', ');
    return {
      ...base,
      early: {
        status: 'failed',
        reason:
          `keyid ${value.keyid} belongs to ${named[0]!.source}, ` +
          `whose ${types} key cannot make IMA signatures (RSA or ECDSA only)`,
      },
      verifiers: [],
    };
  }
  if (certs.length === 0) {
    return {
      ...base,
      early: {
        status: 'failed',
        reason: `signed with keyid ${value.keyid}, but there is no certificate to check it with (give --cert)`,
      },
      verifiers: [],
    };
  }
  if (matching.length === 0) {
    return {
      ...base,
      early: { status: 'failed', reason: `unknown keyid ${value.keyid}: no certificate given has it` },
      verifiers: [],
    };
  }
  needDigest(value.algo);
  return {
    ...base,
    verifiers: matching.map((cert) => ({
      cert,
      verifier: new ContentVerifier(cert.publicKey, value.algo, value.version, value.signature, value.type),
    })),
  };
}
