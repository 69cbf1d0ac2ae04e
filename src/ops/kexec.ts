/**
 * kexec: load a kernel kept where the kernel cannot verify it (a FAT ESP, no
 * xattrs) with kexec_file_load under IMA appraisal. The kernel and the initrd
 * are staged, with their signatures, into a private folder on a filesystem
 * that takes security.ima (a tmpfs), checked there, and loaded from there by
 * kexec-tools (`kexec -s -l`); the staging is always removed afterwards: once
 * loaded, the kernel holds the image in memory.
 *
 * Staging is migrate's copy (hashed as it is written, so the staged bytes are
 * the checked bytes; the signature placed in the copy's xattr), or, for an
 * image that carries an appended signature, modsig detach into the staging
 * folder followed by an import of the detached value.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeImaValue, type ImaValue } from '../codec/ima-value.js';
import { closeTarget, openTarget, readTargetXattr } from '../carriers/target.js';
import { readSidecarOrNothing, sidecarPathFor } from '../carriers/sidecar.js';
import { endsWithAppendedMarker } from '../carriers/appended.js';
import type { Certificate } from '../crypto/certificate.js';
import { ConfigError, FileError } from '../errors.js';
import { keyctlVerifier } from '../kernel/key-verify.js';
import { formatRule } from '../kernel/policy.js';
import type { KernelView } from '../kernel/view.js';
import { doctorFile } from './doctor.js';
import { importOne } from './import.js';
import { MigrationRun, migrateFile } from './migrate.js';
import { detachModsig } from './modsig.js';
import type { FileResult } from './result.js';

const TMPFS_MAGIC = 0x01021994;

export interface KexecOptions {
  readonly initrd?: string;
  /** The new kernel's command line (kexec --append), or the running one's (--reuse-cmdline). */
  readonly append?: string;
  readonly reuseCmdline?: boolean;
  /**
   * Certificates the signatures must verify against; none: only digests are
   * checked here, the kernel checks signatures.
   */
  readonly certs: readonly Certificate[];
  /** The keyids of the kernel's IMA keyring, when they can be read: a signature by another key is refused here. */
  readonly keyringKeyids?: ReadonlySet<string>;
  /**
   * The kernel as doctor sees it (its policy above all): an image without a signature is loaded only when
   * doctor finds that this policy does not appraise the staged copy for its hook (KEXEC_KERNEL_CHECK,
   * KEXEC_INITRAMFS_CHECK); without a view it is always refused.
   */
  readonly view?: KernelView;
  /** A folder to stage in (a fresh folder is made inside it); default a tmpfs: /run, or one mounted for the run. */
  readonly stageDir?: string;
  readonly dryRun?: boolean;
  readonly xattrName: string;
  readonly suffix: string;
  /** kexec-tools' program (default `kexec` on the PATH). */
  readonly kexecProgram?: string;
  /** Told what is done, for the command line to print. */
  readonly onStep?: (text: string) => void;
  /** Aborted (SIGINT, SIGTERM): stop at the next step; the staging is removed all the same. */
  readonly signal?: AbortSignal;
}

export interface StagedFile {
  readonly source: string;
  readonly staged: string;
  /** Where the signature came from. */
  readonly carrier: 'xattr' | 'sidecar' | 'appended' | 'none';
  readonly value?: ImaValue;
  /** Why it goes to the kernel without a signature: what doctor said of the policy for the staged copy. */
  readonly unsigned?: string;
}

export interface KexecResult {
  readonly kernel: StagedFile;
  readonly initrd?: StagedFile;
  readonly loaded: boolean;
  /** The kexec command that was run (or, with dryRun, would be). */
  readonly command: readonly string[];
}

/** A refusal of the whole load: one line naming the file and the reason (exit 1). */
export class KexecRefused extends FileError {}

/** Whether kexec-tools is there to run; a ConfigError (exit 2) when it is not. */
export function requireKexecTools(program = 'kexec'): void {
  const r = spawnSync(program, ['--version'], { stdio: 'ignore' });
  if (r.error) throw new ConfigError(`cannot run ${program} (kexec-tools): ${r.error.message}; install kexec-tools`);
}

interface Staging {
  readonly dir: string;
  remove(): void;
}

function isTmpfs(path: string): boolean {
  try {
    return Number(statfsSync(path).type) === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

/** A fresh folder, mode 0700, on a filesystem that takes security.ima, and how to remove it (and its mount). */
function makeStaging(stageDir: string | undefined): Staging {
  const parent = stageDir ?? (isTmpfs('/run') ? '/run' : undefined);
  if (parent) {
    const dir = mkdtempSync(join(parent, 'ima-sidecar-kexec-'));
    return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
  }
  // No tmpfs at /run: one of our own, mounted for this run only.
  const mountPoint = mkdtempSync('/tmp/ima-sidecar-kexec-');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=0700,nosuid,nodev,noexec', 'tmpfs', mountPoint], {
    encoding: 'utf8',
  });
  if (m.status !== 0) {
    rmSync(mountPoint, { recursive: true, force: true });
    throw new ConfigError(
      `cannot mount a tmpfs to stage in (${(m.stderr || m.error?.message || '').trim()}); use --stage-dir`,
    );
  }
  return {
    dir: mountPoint,
    remove: () => {
      spawnSync('umount', [mountPoint], { stdio: 'ignore' });
      rmSync(mountPoint, { recursive: true, force: true });
    },
  };
}

/** Where the source's signature is: its xattr, its sidecar, an appended signature, or none. */
function sourceCarrier(path: string, opts: KexecOptions, writes: MigrationRun): StagedFile['carrier'] {
  const t = openTarget(path, writes);
  try {
    if (readTargetXattr(t, opts.xattrName)) return 'xattr';
    if (readSidecarOrNothing(sidecarPathFor(path, opts.suffix))) return 'sidecar';
    return endsWithAppendedMarker(t.handle.fd, t.stat.size) ? 'appended' : 'none';
  } finally {
    closeTarget(t);
  }
}

function refusedBy(r: FileResult, what: string): never {
  throw new KexecRefused(r.path, `${what}: ${r.reason ?? r.status}`, 'EBADSIG');
}

/** Copies `source` into the staging folder with its signature in the copy's xattr, checking it on the way. */
async function stage(
  source: string,
  name: string,
  dir: string,
  opts: KexecOptions,
  writes: MigrationRun,
): Promise<StagedFile> {
  const staged = join(dir, name);
  const carrier = sourceCarrier(source, opts, writes);
  const verify = opts.certs.length > 0;
  if (carrier === 'appended') {
    if (!verify) throw new ConfigError(`${source}: an appended signature is turned into a value only with --cert`);
    const detached = await detachModsig(source, { output: staged, certs: opts.certs, suffix: opts.suffix }, writes);
    if (detached.failed) refusedBy(detached, 'appended signature');
    const imported = await importOne(
      staged,
      { xattrName: opts.xattrName, suffix: opts.suffix, verify: true, certs: opts.certs, removeSidecar: true },
      true,
      writes,
    );
    if (imported.failed) refusedBy(imported, 'staged copy');
  } else {
    const copied = await migrateFile(
      { path: source, rel: basename(source) },
      staged,
      {
        xattrName: opts.xattrName,
        suffix: opts.suffix,
        verify,
        certs: opts.certs,
      },
      writes,
    );
    if (copied.failed) refusedBy(copied, 'not staged');
  }
  const t = openTarget(staged, writes);
  let value: ImaValue | undefined;
  try {
    const bytes = readTargetXattr(t, opts.xattrName);
    value = bytes ? decodeImaValue(bytes).value : undefined;
  } finally {
    closeTarget(t);
  }
  return { source, staged, carrier, ...(value ? { value } : {}) };
}

/** What the kernel would refuse anyway, said before it is asked: no signature, a key it does not hold. */
async function check(file: StagedFile, initrd: boolean, opts: KexecOptions): Promise<StagedFile> {
  const v = file.value;
  if (!v || v.kind !== 'signature') {
    const what = v ? 'carries only a digest' : 'has no signature (xattr, sidecar or appended)';
    const func = initrd ? 'KEXEC_INITRAMFS_CHECK' : 'KEXEC_KERNEL_CHECK';
    if (!opts.view)
      throw new KexecRefused(
        file.source,
        `${what}; the kernel would refuse it (if the policy appraises ${func})`,
        'ENODATA',
      );
    // The kernel appraises the staged copy: ask doctor about that one, for the hook it goes through.
    const d = await doctorFile(file.staged, { hook: initrd ? 'kexec-initramfs' : 'kexec', view: opts.view });
    const policy = opts.view.policy.description;
    if (d.kind === 'error')
      throw new KexecRefused(file.source, `${what}, and doctor cannot tell whether ${func} appraises it: ${d.reason}`);
    if (d.verdict === 'denied') {
      const rule = d.rule ? `: ${formatRule(d.rule)}` : '';
      throw new KexecRefused(file.source, `${what}; the kernel would refuse it (${policy}${rule})`, 'ENODATA');
    }
    const why = d.verdict === 'not-appraised' ? `the policy does not appraise ${func}` : d.explanation;
    return { ...file, unsigned: `${why} (${policy})` };
  }
  if (opts.keyringKeyids && !opts.keyringKeyids.has(v.keyid)) {
    throw new KexecRefused(
      file.source,
      `signed with keyid ${v.keyid}, which is not in the kernel's IMA keyring; the kernel would refuse it`,
      'ENOKEY',
    );
  }
  return file;
}

/** Doctor's explanation of the first staged file it finds the kernel denies, for a load the kernel refused. */
async function explainRefusal(files: readonly [StagedFile, boolean][], opts: KexecOptions): Promise<string> {
  if (!opts.view) return '';
  for (const [file, initrd] of files) {
    const d = await doctorFile(file.staged, {
      hook: initrd ? 'kexec-initramfs' : 'kexec',
      view: opts.view,
      certs: opts.certs,
      keyVerifier: keyctlVerifier,
    });
    if (d.kind === 'verdict' && d.verdict === 'denied')
      return `; doctor: ${file.source} ${d.cause ?? 'denied'}: ${d.explanation.replaceAll(file.staged, 'the copy')}`;
  }
  return '';
}

function run(command: readonly string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

/**
 * Stages, checks and (unless dryRun) loads the kernel. Throws KexecRefused
 * (the file and why) when a check fails or the kernel refuses the load,
 * ConfigError for a setup it cannot use; the staging is removed in every case.
 */
export async function kexecLoad(kernel: string, opts: KexecOptions): Promise<KexecResult> {
  const program = opts.kexecProgram ?? 'kexec';
  if (!opts.dryRun) requireKexecTools(program);
  const staging = makeStaging(opts.stageDir);
  // A signal rolls back a copy in flight too: the staging is removed anyway, and sooner.
  const writes = new MigrationRun(opts.signal);
  const stopped = (): void => {
    if (opts.signal?.aborted) throw new KexecRefused(kernel, 'interrupted; nothing loaded', 'EINTR');
  };
  try {
    opts.onStep?.(`staging in ${staging.dir}`);
    const k = await check(await stage(kernel, 'kernel', staging.dir, opts, writes), false, opts);
    stopped();
    const staged = opts.initrd ? await stage(opts.initrd, 'initrd', staging.dir, opts, writes) : undefined;
    stopped();
    const i = staged ? await check(staged, true, opts) : undefined;
    const command = [
      program,
      '-s',
      '-l',
      k.staged,
      ...(i ? ['--initrd', i.staged] : []),
      ...(opts.reuseCmdline ? ['--reuse-cmdline'] : opts.append !== undefined ? ['--append', opts.append] : []),
    ];
    if (opts.dryRun) return { kernel: k, ...(i ? { initrd: i } : {}), loaded: false, command };
    const r = await run(command);
    if (r.status !== 0) {
      const said = r.stderr.trim().replace(/\s*\n\s*/g, '; ') || `exit ${r.status}`;
      const why = await explainRefusal(
        i
          ? [
              [k, false],
              [i, true],
            ]
          : [[k, false]],
        opts,
      );
      throw new KexecRefused(kernel, `kexec_file_load refused it: ${said}${why}`, 'EACCES');
    }
    return { kernel: k, ...(i ? { initrd: i } : {}), loaded: true, command };
  } finally {
    staging.remove();
  }
}
