/**
 * migrate: copy files from SRC to DEST and move each file's signature into the
 * best carrier DEST offers (the xattr where it takes xattrs, a sidecar where
 * it does not). The content is hashed as it is copied, so the value checked
 * is checked against the bytes written. Each file is written by the one
 * atomic writer (carriers/atomic-write.ts): a temporary name, mode, timestamps
 * and then the xattr, fsync, rename: a killed run leaves complete files or
 * none, and running it again finishes.
 */
import { constants, fstatSync, Stats } from 'node:fs';
import type { PositionalReader } from '../crypto/digest.js';
import { FileHandle, lstat, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ImaValue } from '../codec/ima-value.js';
import { NewFile, processAlive, temporaryOwner, writeFileAtomic } from '../carriers/atomic-write.js';
import type { Filesystem } from '../carriers/filesystem.js';
import { Run } from '../carriers/run.js';
import { readSidecar, readSidecarOrNothing, sidecarPathFor, writeSidecar } from '../carriers/sidecar.js';
import { closeTarget, openTarget, readTargetXattr, Target, writeXattr } from '../carriers/target.js';
import { getXattrFd, isUnsupported, XattrError } from '../carriers/xattr.js';
import { oneAtATimePerName } from '../carriers/name-lock.js';
import { decodeFsName, encodeFsName, fsPath } from '../carriers/fs-path.js';
import type { Certificate } from '../crypto/certificate.js';
import { ConfigError, describeSystemError, errnoOf, FileError } from '../errors.js';
import { CarrierValue, checkValues, planChecks } from './check.js';
import type { ContentSink } from '../crypto/signature.js';
import { failure, FileResult, SelectionDetails, SelectionStatus, tryDecode } from './result.js';
import { processTree, TargetSelection, TreeOptions } from './tree.js';
import { copyJobs } from '../select/runner.js';

export interface MigrateOptions {
  readonly xattrName: string;
  readonly suffix: string;
  readonly verify?: boolean;
  readonly certs?: readonly Certificate[];
  readonly force?: boolean;
  readonly dryRun?: boolean;
  /** Also write sidecars onto a DEST that takes xattrs. */
  readonly keepSidecars?: boolean;
}

export type MigrateCarrier = 'xattr' | 'sidecar' | 'none';

/**
 * copied: a new copy; unchanged: an identical copy already carried the signature;
 * signed: an identical copy whose carrier was finished; would-copy, would-sign: the same under `dryRun`.
 */
export type MigrateStatus =
  'copied' | 'unchanged' | 'signed' | 'would-copy' | 'would-sign' | 'conflict' | 'failed' | SelectionStatus;

export type MigrateDetails = SelectionDetails & {
  /** Where the file goes. */
  readonly dest?: string;
  /** The source's carrier of the signature copied. */
  readonly from?: 'xattr' | 'sidecar';
  /** The destination's filesystem. */
  readonly filesystem?: string;
  /** Where the copy's signature is ('unknown' under `dryRun`, before the destination is written). */
  readonly carrier?: MigrateCarrier | 'unknown';
  /** With `force`: a different file at the destination was replaced. */
  readonly replacedFile?: boolean;
  /** With `force`: the different value the destination's sidecar held, hex. */
  readonly replacedSidecar?: string;
  /** conflict: the different signature the destination holds, hex. */
  readonly current?: string;
};

export type MigrateResult = FileResult<MigrateStatus, MigrateDetails>;

/** The details while one file's migration finds them out. */
type DetailsSoFar = { -readonly [K in keyof MigrateDetails]: MigrateDetails[K] };

const CHUNK = 1 << 20;

/**
 * Where SRC's files go: a directory's contents into DEST; a file into DEST/
 * when DEST is a directory, else onto DEST.
 */
export async function planMigration(
  src: string,
  dest: string,
  recursive: boolean,
): Promise<{ srcIsDir: boolean; destFor: (sel: Pick<TargetSelection, 'path' | 'rel'>) => string }> {
  let st: Stats;
  try {
    st = await lstat(fsPath(src));
  } catch (e) {
    throw new ConfigError(`${src}: cannot read source: ${describeSystemError(e)}`, src);
  }
  if (st.isSymbolicLink()) throw new ConfigError(`${src}: source is a symbolic link; not followed`, src);
  if (st.isDirectory()) {
    if (!recursive) throw new ConfigError(`${src}: is a directory (use -r to migrate a tree)`, src);
    const rs = resolve(src) + sep;
    const rd = resolve(dest) + sep;
    if (rd.startsWith(rs)) throw new ConfigError(`${dest}: destination is inside the source ${src}`, dest);
    return { srcIsDir: true, destFor: (sel) => join(dest, sel.rel) };
  }
  let destIsDir = false;
  try {
    destIsDir = (await stat(fsPath(dest))).isDirectory();
  } catch {
    destIsDir = dest.endsWith('/');
  }
  return { srcIsDir: false, destFor: (sel) => (destIsDir ? join(dest, basename(sel.path)) : dest) };
}

interface SourceSignature {
  readonly carrier: 'xattr' | 'sidecar';
  readonly bytes: Buffer;
  readonly value: ImaValue;
}

/** The source's signature: its xattr, else its sidecar. */
async function sourceSignature(t: Target, opts: MigrateOptions): Promise<SourceSignature | undefined> {
  const x = readTargetXattr(t, opts.xattrName);
  const pick = x ? { carrier: 'xattr' as const, bytes: x } : undefined;
  const sidecar = pick ? undefined : readSidecar(sidecarPathFor(t.path, opts.suffix));
  const chosen = pick ?? (sidecar ? { carrier: 'sidecar' as const, bytes: sidecar } : undefined);
  if (!chosen) return undefined;
  const d = tryDecode(chosen.bytes);
  if ('error' in d)
    throw new FileError(
      t.path,
      `malformed ${chosen.carrier === 'xattr' ? opts.xattrName : 'sidecar'}: ${d.error}; not copied`,
      'EINVAL',
    );
  return { ...chosen, value: d.value };
}

/** Byte-compares two open files. */
async function sameContent(a: PositionalReader, b: PositionalReader, size: number): Promise<boolean> {
  const ba = Buffer.allocUnsafe(CHUNK);
  const bb = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; pos < size;) {
    const [ra, rb] = await Promise.all([a.read(ba, 0, CHUNK, pos), b.read(bb, 0, CHUNK, pos)]);
    if (ra.bytesRead !== rb.bytesRead || ra.bytesRead === 0) return false;
    if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    pos += ra.bytesRead;
  }
  return true;
}

/** What one migration remembers while it runs: besides what every run does, the destination folders it made ready. */
export class MigrationRun extends Run {
  readonly preparedFolders = new Set<string>();
}

/** Creates the destination directory and removes temporary files a killed run left there, once per run. */
async function prepareDestDir(dir: string, run: MigrationRun): Promise<void> {
  if (run.preparedFolders.has(dir)) return;
  try {
    await mkdir(fsPath(dir), { recursive: true });
  } catch (e) {
    throw new FileError(dir, `cannot create directory: ${describeSystemError(e)}`, errnoOf(e));
  }
  run.preparedFolders.add(dir);
  for (const name of await readdir(fsPath(dir), { encoding: 'buffer' }).catch(() => [] as Buffer[])) {
    const t = temporaryOwner(decodeFsName(name));
    if (t && !processAlive(t.pid)) await unlink(Buffer.concat([encodeFsName(dir + '/'), name])).catch(() => {});
  }
}

/** Writes the xattr on the finished copy (open as `fd`); 'sidecar-pending' where DEST takes no xattrs. */
function placeSignature(fd: number, destPath: string, fs: Filesystem, sig: SourceSignature, opts: MigrateOptions) {
  const copy = { path: destPath, handle: { fd }, fs };
  if (fs.takesXattrs(opts.xattrName) === false) return 'sidecar-pending';
  try {
    // Read back always: the source's signature is the one thing this copy must carry.
    writeXattr(copy, opts.xattrName, sig.bytes, { confirm: true });
    return 'xattr';
  } catch (e) {
    if (e instanceof XattrError && isUnsupported(e.code)) return 'sidecar-pending';
    throw e;
  }
}

export async function migrateFile(
  sel: Pick<TargetSelection, 'path' | 'rel'>,
  destPath: string,
  opts: MigrateOptions,
  run: MigrationRun = new MigrationRun(),
): Promise<MigrateResult> {
  const path = sel.path;
  let src: Target;
  try {
    src = openTarget(path, run);
  } catch (e) {
    return failure(path, 'failed', e);
  }
  const details: DetailsSoFar = { dest: destPath };
  let destHandle: FileHandle | undefined;
  try {
    // Mode and times as they were before anything read the file (a read may move its atime).
    const srcStat = fstatSync(src.handle.fd);
    const sig = await sourceSignature(src, opts);
    const base = { path, value: sig?.bytes, decoded: sig?.value };
    if (sig) details.from = sig.carrier;
    const destDir = dirname(destPath);
    if (!opts.dryRun) await prepareDestDir(destDir, run);
    // The copy is made in destDir, so it is on destDir's filesystem (for a dry run, where destDir may not exist yet,
    // the nearest folder that does).
    const fsDir = opts.dryRun ? await existingAncestor(destDir) : destDir;
    const destFs = run.filesystems.of(fsDir, (await stat(fsPath(fsDir))).dev);
    details.filesystem = destFs.name;

    // An existing destination: complete and identical means only the carrier may need finishing.
    let existing: Stats | undefined;
    try {
      existing = await lstat(fsPath(destPath));
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT')
        throw new FileError(destPath, `cannot stat destination: ${describeSystemError(e)}`, errnoOf(e));
    }
    if (existing) {
      if (!existing.isFile())
        return {
          ...base,
          status: 'conflict',
          failed: true,
          reason: `destination ${destPath} exists and is not a regular file`,
          details,
        };
      destHandle = await open(fsPath(destPath), constants.O_RDONLY | constants.O_NOFOLLOW);
      const same = existing.size === src.stat.size && (await sameContent(src.handle, destHandle, src.stat.size));
      if (same) return await finishExisting(src, destHandle, destPath, destFs, sig, base, details, opts);
      await destHandle.close();
      destHandle = undefined;
      if (!opts.force)
        return {
          ...base,
          status: 'conflict',
          failed: true,
          reason: `destination ${destPath} exists with different content; use --force to replace it`,
          details,
        };
      details.replacedFile = true;
    }
    // A sidecar already at the destination that is not this signature is someone's data: never replaced silently.
    if (sig) {
      const strayPath = sidecarPathFor(destPath, opts.suffix);
      let stray: Buffer | undefined;
      let unusable: string | undefined;
      try {
        stray = readSidecar(strayPath);
      } catch (e) {
        unusable = e instanceof FileError ? e.reason : String(e);
      }
      if (unusable !== undefined || (stray && !stray.equals(sig.bytes) && !tryDecodeIsDigest(stray))) {
        if (!opts.force || unusable !== undefined) {
          const why = unusable !== undefined ? `is unusable (${unusable})` : 'holds a different value';
          return {
            ...base,
            status: 'conflict',
            failed: true,
            reason:
              `destination sidecar ${strayPath} ${why}` +
              `${unusable === undefined ? '; use --force to replace it' : ''}`,
            details,
          };
        }
        details.replacedSidecar = stray!.toString('hex');
      }
    }
    if (opts.dryRun)
      return {
        ...base,
        status: 'would-copy',
        failed: false,
        details: { ...details, carrier: sig ? 'unknown' : 'none' },
      };

    // Copy, hashing (and verifying) the very bytes written; mode and times, then the xattr, last.
    const values: CarrierValue[] = sig ? [{ carrier: sig.carrier, bytes: sig.bytes }] : [];
    const plan = planChecks(values, opts.verify ? (opts.certs ?? []) : []);
    let placed: 'xattr' | 'sidecar-pending' | undefined;
    await writeFileAtomic(
      destPath,
      async (file) => {
        await copyThrough(src.handle, file, plan.sinks);
        const check = plan.finish()[0];
        if (check && check.status !== 'ok' && (opts.verify || sig?.value.kind === 'digest')) {
          throw new FileError(path, `${check.reason}; not copied`, 'EBADSIG');
        }
      },
      {
        what: 'destination',
        rollback: run.rollback,
        mode: srcStat.mode & 0o7777,
        times: { atime: srcStat.atime, mtime: srcStat.mtime },
        beforeRename: (fd) => {
          if (sig) placed = placeSignature(fd, destPath, destFs, sig, opts);
        },
      },
    );
    let carrier: MigrateCarrier = placed === 'xattr' ? 'xattr' : 'none';
    if (sig && (placed === 'sidecar-pending' || opts.keepSidecars)) {
      // The copy is in place: its sidecar is finished even when the run is being stopped at once (no rollback).
      await writeSidecar(sidecarPathFor(destPath, opts.suffix), sig.bytes);
      if (placed === 'sidecar-pending') carrier = 'sidecar';
    }
    return { ...base, status: 'copied', failed: false, details: { ...details, carrier } };
  } catch (e) {
    return failure(path, 'failed', e, { details });
  } finally {
    if (destHandle) await destHandle.close().catch(() => {});
    closeTarget(src);
  }
}

async function existingAncestor(dir: string): Promise<string> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      if ((await stat(fsPath(d))).isDirectory()) return d;
    } catch {
      /* keep climbing */
    }
    if (dirname(d) === d) return d;
  }
}

/** A destination whose content is already complete: finish its carrier, or report it unchanged. */
async function finishExisting(
  src: Target,
  destHandle: FileHandle,
  destPath: string,
  fs: Filesystem,
  sig: SourceSignature | undefined,
  base: Pick<MigrateResult, 'value' | 'decoded'>,
  details: MigrateDetails,
  opts: MigrateOptions,
): Promise<MigrateResult> {
  const path = src.path;
  if (!sig) return { ...base, path, status: 'unchanged', failed: false, details: { ...details, carrier: 'none' } };
  if (opts.verify) {
    const [check] = await checkValues(src, [{ carrier: sig.carrier, bytes: sig.bytes }], opts.certs ?? []);
    if (check && check.status !== 'ok')
      return { ...base, path, status: 'failed', failed: true, reason: `${check.reason}; not copied`, details };
  }
  let current: Buffer | undefined;
  if (fs.takesXattrs(opts.xattrName) !== false) {
    try {
      current = getXattrFd(destHandle.fd, destPath, opts.xattrName, fs.name);
      fs.learnXattrs(opts.xattrName, true);
    } catch (e) {
      if (!(e instanceof XattrError && isUnsupported(e.code))) throw e;
      fs.learnXattrs(opts.xattrName, false);
    }
  }
  const takes = fs.takesXattrs(opts.xattrName) !== false;
  const sidecarPath = sidecarPathFor(destPath, opts.suffix);
  const sidecar = !takes || opts.keepSidecars ? readSidecarOrNothing(sidecarPath) : undefined;
  const xattrDone = !takes || current?.equals(sig.bytes);
  const sidecarDone = (takes && !opts.keepSidecars) || sidecar?.equals(sig.bytes);
  const carrier: MigrateCarrier = takes ? 'xattr' : 'sidecar';
  if (xattrDone && sidecarDone)
    return { ...base, path, status: 'unchanged', failed: false, details: { ...details, carrier } };
  if (takes && current && !current.equals(sig.bytes) && !tryDecodeIsDigest(current) && !opts.force) {
    return {
      ...base,
      path,
      status: 'conflict',
      failed: true,
      reason: `destination ${opts.xattrName} holds a different signature; use --force to replace it`,
      details: { ...details, current: current.toString('hex') },
    };
  }
  // The same rule for a sidecar already at the destination: a digest may be upgraded, a different
  // signature is not replaced silently.
  if (!sidecarDone && sidecar && !tryDecodeIsDigest(sidecar) && !opts.force) {
    return {
      ...base,
      path,
      status: 'conflict',
      failed: true,
      reason: `destination sidecar ${sidecarPath} holds a different signature; use --force to replace it`,
      details: { ...details, current: sidecar.toString('hex') },
    };
  }
  if (opts.dryRun) return { ...base, path, status: 'would-sign', failed: false, details: { ...details, carrier } };
  if (!xattrDone) {
    writeXattr({ path: destPath, handle: destHandle, fs }, opts.xattrName, sig.bytes, { confirm: true });
  }
  if (!sidecarDone) await writeSidecar(sidecarPath, sig.bytes);
  return { ...base, path, status: 'signed', failed: false, details: { ...details, carrier } };
}

function tryDecodeIsDigest(bytes: Buffer): boolean {
  const d = tryDecode(bytes);
  return !('error' in d) && d.value.kind === 'digest';
}

/** Copies every byte, feeding the same buffers that are written to the sinks. */
async function copyThrough(from: PositionalReader, to: NewFile, sinks: readonly ContentSink[]): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; ;) {
    const { bytesRead } = await from.read(buf, 0, CHUNK, pos);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    for (const s of sinks) s.update(chunk);
    await to.write(chunk);
    pos += bytesRead;
  }
}

export async function* migrate(
  src: string,
  dest: string,
  tree: TreeOptions,
  opts: MigrateOptions & { recursive?: boolean },
): AsyncGenerator<MigrateResult> {
  const plan = await planMigration(src, dest, !!opts.recursive);
  const run = new MigrationRun(tree.rollback);
  // Destinations whose names differ only in case are one file on FAT: never written at the same
  // time (carriers/name-lock.ts).
  yield* processTree(
    [src],
    { ...tree, defaultJobs: tree.defaultJobs ?? copyJobs(), select: { ...tree.select, recursive: plan.srcIsDir } },
    (sel) => {
      const destPath = plan.destFor(sel);
      return oneAtATimePerName(destPath, () => migrateFile(sel, destPath, opts, run));
    },
    run,
  );
}
