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

/** The kinds of key loaded: "HMAC", "X.509", "HMAC and X.509". */
function keyKinds(s: EvmState): string {
  return [s.hmacKey ? 'HMAC' : '', s.x509Key ? 'X.509' : ''].filter(Boolean).join(' and ');
}

/** For people: "no key loaded", "HMAC key loaded", ... */
export function describeEvm(s: EvmState): string {
  if (s.keyLoaded === undefined) return `unknown (${s.how}), taken as no key loaded`;
  if (!s.keyLoaded) return 'no key loaded (security.evm is ignored)';
  return `${keyKinds(s)} key loaded${s.allowMetadataWrites ? ', metadata writes allowed' : ''}`;
}

/** CAP_SYS_ADMIN's bit in /proc/PID/status's CapEff. */
const CAP_SYS_ADMIN = 21n;

/** Whether CapEff in /proc/PID/status text holds CAP_SYS_ADMIN; undefined when it has no CapEff line. */
export function capSysAdminFromStatus(text: string): boolean | undefined {
  const m = /^CapEff:\s+([0-9a-fA-F]+)\s*$/m.exec(text);
  return m ? ((BigInt(`0x${m[1]}`) >> CAP_SYS_ADMIN) & 1n) === 1n : undefined;
}

/** What the file holds as security.evm, as far as the refusal's wording goes. */
export type EvmXattrState = 'absent' | 'present' | 'unknown';

/**
 * Why EVM refuses a write (or removal) of an xattr it protects (security.ima), or undefined when it cannot
 * be EVM. evm_inode_setxattr (evm_main.c, 6.1): with EVM_ALLOW_METADATA_WRITES everything passes; with no
 * key loaded (or evm=fix, not visible here) the file counts as verified; else a file whose security.evm
 * does not verify (none, or a wrong one) gets EPERM. The exceptions the kernel makes for a file without
 * any protected xattr (new, on tmpfs, X.509-only after setup complete) only narrow when it happens: the
 * caller has an EPERM in hand already, and as root with CAP_SYS_ADMIN nothing else in the way answers so.
 */
export function evmRefusalReason(
  name: string,
  op: 'write' | 'remove',
  state: EvmState,
  evmXattr: EvmXattrState,
): string | undefined {
  if (!state.keyLoaded || state.allowMetadataWrites) return undefined;
  const file =
    evmXattr === 'absent'
      ? 'the file has no security.evm'
      : evmXattr === 'present'
        ? "the file's security.evm does not verify"
        : "the file's security.evm is missing or does not verify";
  // An HMAC key clears EVM_ALLOW_METADATA_WRITES and refuses it from then on (evm_secfs.c).
  const allow = state.hmacKey
    ? ''
    : `, write ${EVM_FLAGS.ALLOW_METADATA_WRITES} (EVM_ALLOW_METADATA_WRITES) to /sys/kernel/security/evm`;
  return (
    `EVM refused to ${op} ${name} (EPERM): an EVM ${keyKinds(state)} key is loaded (/sys/kernel/security/evm reads ` +
    `${state.flags}) and ${file}; boot with evm=fix${allow}, ${op} it before EVM is initialised (an early ` +
    `boot hook), or sign the file's EVM too when signing it (evmctl sign --imasig --portable)`
  );
}
