/**
 * Whether the machine booted with UEFI Secure Boot on, as efi_get_secureboot_mode
 * decides it: SecureBoot is 1 and SetupMode is not. It matters twice to IMA:
 * ima_appraise= other than enforce is ignored, and the arch rules go in front
 * of every policy.
 */

const GLOBAL_VARIABLE_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';

/** Reads a file's bytes; undefined when it is not there, 'unreadable' when it is but cannot be read. */
export type BytesReader = (path: string) => Buffer | undefined | 'unreadable';

export interface SecureBootState {
  /** undefined: cannot tell (efivarfs not mounted, or unreadable). */
  readonly enabled: boolean | undefined;
  readonly how: string;
}

/** An efivarfs file holds four bytes of attributes, then the variable's data. */
function efiByte(read: BytesReader, root: string, name: string): number | undefined | 'unreadable' {
  const got = read(`${root}/sys/firmware/efi/efivars/${name}-${GLOBAL_VARIABLE_GUID}`);
  if (got === undefined || got === 'unreadable') return got;
  return got.length >= 5 ? got[4]! : 'unreadable';
}

export function readSecureBoot(read: BytesReader, exists: (path: string) => boolean, root = ''): SecureBootState {
  if (!exists(`${root}/sys/firmware/efi`)) return { enabled: false, how: 'not booted through UEFI' };
  if (!exists(`${root}/sys/firmware/efi/efivars`))
    return { enabled: undefined, how: 'UEFI boot, but efivarfs is not mounted' };
  const secureBoot = efiByte(read, root, 'SecureBoot');
  if (secureBoot === undefined) return { enabled: false, how: 'no SecureBoot variable' };
  if (secureBoot === 'unreadable') return { enabled: undefined, how: 'the SecureBoot variable cannot be read' };
  if (secureBoot === 0) return { enabled: false, how: 'SecureBoot=0' };
  if (efiByte(read, root, 'SetupMode') === 1) return { enabled: false, how: 'SecureBoot=1 but SetupMode=1' };
  return { enabled: true, how: 'SecureBoot=1' };
}
