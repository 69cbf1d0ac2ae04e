/**
 * keyid: the keyid the kernel will match for each certificate, and where it came from.
 */
import { loadCertificates } from '../crypto/certificate.js';
import { ConfigError } from '../errors.js';
import type { KeyAlgorithm } from '../crypto/keys.js';
import { FileResult } from './result.js';

export type KeyidStatus = 'ok' | 'failed';

export type KeyidDetails = {
  readonly keyid?: string;
  readonly keyidSource?: 'subjectKeyIdentifier' | 'computed (sha1 of the public key)';
  /** The subjectKeyIdentifier, hex, when the certificate has one. */
  readonly skid?: string;
  readonly subject?: string;
  /** The keyid the kernel finds the certificate by: the SKID's, else the tail of serial || issuer. */
  readonly kernelKeyid?: string;
  /** The key's type for IMA signatures; 'unsupported' for a key that cannot make them (DSA, Ed25519...). */
  readonly keyType?: KeyAlgorithm | 'unsupported';
};

/** One per certificate found (a bundle or directory gives several), or one failure per path. */
export type KeyidResult = FileResult<KeyidStatus, KeyidDetails>;

export async function keyidsOf(paths: readonly string[], warn: (m: string) => void): Promise<KeyidResult[]> {
  const results: KeyidResult[] = [];
  for (const p of paths) {
    try {
      const certs = await loadCertificates([p], warn);
      for (const c of certs) {
        results.push({
          path: c.source,
          status: 'ok',
          failed: false,
          details: {
            keyid: c.keyid,
            keyidSource: c.keyidSource === 'skid' ? 'subjectKeyIdentifier' : 'computed (sha1 of the public key)',
            // What sign writes is keyid; without a SKID the kernel finds the certificate only by this other one.
            kernelKeyid: c.keyidSource === 'skid' ? c.keyid : c.issuerKeyid,
            skid: c.skid?.toString('hex'),
            subject: c.subject,
            keyType: c.algorithm ?? 'unsupported',
          },
        });
      }
    } catch (e) {
      results.push({
        path: p,
        status: 'failed',
        failed: true,
        reason: e instanceof ConfigError ? e.message.replace(`${p}: `, '') : String(e),
      });
    }
  }
  return results;
}
