/**
 * EVM's state, from /sys/kernel/security/evm (evm_secfs.c: the flags as a
 * decimal number, "setup complete" left out; readable by root only). Until a
 * key is loaded EVM ignores security.evm; once one is, a file with
 * security.ima and no valid security.evm fails appraisal (missing-HMAC).
 */

export const EVM_FLAGS = { HMAC: 0x1, X509: 0x2, ALLOW_METADATA_WRITES: 0x4 } as const;

export interface EvmState {
  /** undefined: the state could not be read (not root, no securityfs, no EVM). */
  readonly flags: number | undefined;
  readonly hmacKey: boolean | undefined;
  readonly x509Key: boolean | undefined;
  /** EVM checks security.evm (HMAC or X.509 key loaded). */
  readonly keyLoaded: boolean | undefined;
  readonly allowMetadataWrites: boolean | undefined;
  /** Where the state came from, or why it is unknown. */
  readonly how: string;
}

export function unknownEvm(how: string): EvmState {
  return {
    flags: undefined,
    hmacKey: undefined,
    x509Key: undefined,
    keyLoaded: undefined,
    allowMetadataWrites: undefined,
    how,
  };
}

/** The state from the file's text (decimal as the kernel writes it; hex with 0x is taken too). Never throws. */
export function parseEvmFlags(text: string, how = '/sys/kernel/security/evm'): EvmState {
  const t = text.trim();
  if (!/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(t)) return unknownEvm(`${how} holds "${t.slice(0, 40)}", not a number`);
  const flags = Number(t);
  if (!Number.isSafeInteger(flags)) return unknownEvm(`${how} holds an out-of-range number`);
  const hmacKey = (flags & EVM_FLAGS.HMAC) !== 0;
  const x509Key = (flags & EVM_FLAGS.X509) !== 0;
  return {
    flags,
    hmacKey,
    x509Key,
    keyLoaded: hmacKey || x509Key,
    allowMetadataWrites: (flags & EVM_FLAGS.ALLOW_METADATA_WRITES) !== 0,
    how,
  };
}

/** For people: "no key loaded", "HMAC key loaded", ... */
export function describeEvm(s: EvmState): string {
  if (s.keyLoaded === undefined) return `unknown (${s.how}), taken as no key loaded`;
  if (!s.keyLoaded) return 'no key loaded (security.evm is ignored)';
  const keys = [s.hmacKey ? 'HMAC' : '', s.x509Key ? 'X.509' : ''].filter(Boolean).join(' and ');
  return `${keys} key loaded${s.allowMetadataWrites ? ', metadata writes allowed' : ''}`;
}
