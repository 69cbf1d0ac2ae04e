/**
 * Checking a signature with the very key the kernel holds, where no
 * certificate is at hand: `keyctl pkey_verify` asks the kernel's own
 * asymmetric key code (KEYCTL_PKEY_VERIFY) to verify a digest, as IMA's
 * asymmetric_verify does. Only on the running system, and only where the
 * key's permissions let this process search it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KernelKeyAnswer = 'valid' | 'bad-signature';

/** Verifies `signature` over `digest` with key `serial`; undefined when the kernel could not be asked. */
export type KernelKeyVerifier = (
  serial: number,
  keyAlgorithm: string | undefined,
  hashAlgo: string,
  digest: Buffer,
  signature: Buffer,
) => KernelKeyAnswer | undefined;

/** The encoding asymmetric_verify gives the kernel for each key type. */
function encodingFor(keyAlgorithm: string | undefined): string | undefined {
  if (keyAlgorithm === undefined || keyAlgorithm === 'rsa') return 'pkcs1';
  if (keyAlgorithm.startsWith('ecdsa-')) return 'x962';
  return undefined;
}

/** keyctl pkey_verify, through a private temporary folder for its two input files. */
export const keyctlVerifier: KernelKeyVerifier = (serial, keyAlgorithm, hashAlgo, digest, signature) => {
  const enc = encodingFor(keyAlgorithm);
  if (!enc) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ima-sidecar-doctor-'));
  try {
    const data = join(dir, 'digest');
    const sig = join(dir, 'signature');
    writeFileSync(data, digest, { mode: 0o600 });
    writeFileSync(sig, signature, { mode: 0o600 });
    const r = spawnSync('keyctl', ['pkey_verify', String(serial), '0', data, sig, `enc=${enc}`, `hash=${hashAlgo}`], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.status === 0) return 'valid';
    // EKEYREJECTED and EBADMSG are the verdicts; anything else (no keyctl, EACCES, EOPNOTSUPP) is no answer.
    if (r.status === 1 && /rejected|Bad message/i.test(r.stderr ?? '')) return 'bad-signature';
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
