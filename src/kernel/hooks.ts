/**
 * The accesses doctor predicts, and the appraisals the kernel makes for each
 * (ima_main.c: ima_file_check, ima_bprm_check, ima_file_mmap, ima_post_read_file).
 * Tables only, without run-time imports: the command line loads this at
 * start-up for --hook's choices, and the rest of doctor only when it runs.
 */
import type { MayName, PolicyFunc } from './policy.js';

export const HOOK_NAMES = ['read', 'exec', 'mmap', 'module', 'firmware', 'kexec', 'kexec-initramfs', 'policy'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** One appraisal the kernel makes on the way: the hook function, the access mask, and what the step is. */
export interface HookStep {
  readonly func: PolicyFunc;
  readonly mask: MayName;
  readonly what: string;
}

/**
 * Each access, as the kernel appraises it: a file is opened (FILE_CHECK, with
 * MAY_EXEC for execve's own open) before the hook of the access itself; each
 * step is appraised on its own, and the first that fails denies.
 */
export const HOOKS: Readonly<Record<HookName, { readonly func: PolicyFunc; readonly steps: readonly HookStep[] }>> = {
  read: { func: 'FILE_CHECK', steps: [{ func: 'FILE_CHECK', mask: 'MAY_READ', what: 'opened for reading' }] },
  exec: {
    func: 'BPRM_CHECK',
    steps: [
      { func: 'FILE_CHECK', mask: 'MAY_EXEC', what: 'opened by execve' },
      { func: 'BPRM_CHECK', mask: 'MAY_EXEC', what: 'executed' },
      { func: 'CREDS_CHECK', mask: 'MAY_EXEC', what: 'executed, with the new credentials' },
    ],
  },
  mmap: {
    func: 'MMAP_CHECK',
    steps: [
      { func: 'FILE_CHECK', mask: 'MAY_READ', what: 'opened for reading' },
      { func: 'MMAP_CHECK', mask: 'MAY_EXEC', what: 'mapped executable' },
    ],
  },
  module: {
    func: 'MODULE_CHECK',
    steps: [
      { func: 'FILE_CHECK', mask: 'MAY_READ', what: 'opened by modprobe' },
      { func: 'MODULE_CHECK', mask: 'MAY_READ', what: 'loaded as a module' },
    ],
  },
  firmware: {
    func: 'FIRMWARE_CHECK',
    steps: [
      { func: 'FILE_CHECK', mask: 'MAY_READ', what: 'opened by the kernel' },
      { func: 'FIRMWARE_CHECK', mask: 'MAY_READ', what: 'loaded as firmware' },
    ],
  },
  kexec: {
    func: 'KEXEC_KERNEL_CHECK',
    steps: [
      { func: 'FILE_CHECK', mask: 'MAY_READ', what: 'opened by kexec' },
      { func: 'KEXEC_KERNEL_CHECK', mask: 'MAY_READ', what: 'loaded by kexec_file_load as the kernel' },
    ],
  },
  'kexec-initramfs': {
    func: 'KEXEC_INITRAMFS_CHECK',
    steps: [
      { func: 'FILE_CHECK', mask: 'MAY_READ', what: 'opened by kexec' },
      { func: 'KEXEC_INITRAMFS_CHECK', mask: 'MAY_READ', what: 'loaded by kexec_file_load as the initramfs' },
    ],
  },
  policy: {
    func: 'POLICY_CHECK',
    steps: [
      { func: 'FILE_CHECK', mask: 'MAY_READ', what: 'opened by the kernel' },
      { func: 'POLICY_CHECK', mask: 'MAY_READ', what: 'loaded as the IMA policy' },
    ],
  },
};
