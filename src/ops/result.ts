/**
 * The typed per-file record every operation yields. The CLI prints it as a
 * line or as JSON; library users get it as is.
 */
import { decodeImaValue, describeValue, ImaValue } from '../codec/ima-value.js';
import { FormatError, describeSystemError, FileError } from '../errors.js';
import type { Selected } from '../select/walk.js';

/**
 * Details of a result whose operation is not known here (the command line's
 * printing, a summary). Each operation's details are a type alias rather than
 * an interface so that every operation's result is also a plain FileResult:
 * an interface has no implicit index signature.
 */
export type AnyDetails = Readonly<Record<string, unknown>>;

/**
 * One file's result. `S` is the operation's statuses, `D` its details: each
 * operation exports both and its result type (SignResult, VerifyResult...).
 */
export interface FileResult<S extends string = string, D extends object = AnyDetails> {
  /** As the user gave it, joined with the relative path below a directory argument. */
  readonly path: string;
  readonly status: S;
  /** Counts toward exit code 1. */
  readonly failed: boolean;
  readonly reason?: string;
  /** The whole security.ima value involved, when there is one. */
  readonly value?: Buffer;
  readonly decoded?: ImaValue;
  readonly warnings?: string[];
  /** Operation-specific facts (carriers checked, replaced value, filesystem...); JSON output flattens them. */
  readonly details?: D;
}

/** What the selection itself reports, whatever the operation: an entry that is not a target. */
export type SelectionStatus = 'skipped' | 'orphan';

/** An orphan's sidecar (the .sig whose file is missing); every tree operation's details include it. */
export type SelectionDetails = { readonly sidecar?: string };

export type SelectionResult = FileResult<SelectionStatus, SelectionDetails>;

/** A failed record with the error's reason; without details (`never`) it fits any operation's result. */
export function failure<S extends string, D extends object = never>(
  path: string,
  status: S,
  err: unknown,
  extra: Partial<FileResult<S, D>> = {},
): FileResult<S, D> {
  const reason =
    err instanceof FileError ? err.reason : err instanceof FormatError ? err.reason : describeSystemError(err);
  return { path, status, failed: true, reason, ...extra };
}

/**
 * What to say about entries of the selection that are not targets. A sidecar
 * left without its file in a walk (a kernel removed, its .sig left on the
 * ESP) is reported, not a failure: one leftover must not fail a boot hook on
 * every run after. A sidecar named on the command line whose file is missing
 * is a failure: that file was asked for.
 */
export function resultForNonTarget(sel: Exclude<Selected, { kind: 'target' }>): SelectionResult {
  if (sel.kind === 'orphan') {
    return {
      path: sel.path,
      status: 'orphan',
      failed: sel.explicit,
      reason: `sidecar ${sel.sidecar} has no file beside it`,
      details: { sidecar: sel.sidecar },
    };
  }
  return { path: sel.path, status: 'skipped', failed: sel.explicit, reason: sel.reason };
}

/** Decodes without throwing: the value or the reason it is malformed. */
export function tryDecode(bytes: Buffer): { value: ImaValue; warnings: string[] } | { error: string } {
  try {
    return decodeImaValue(bytes);
  } catch (e) {
    if (e instanceof FormatError) return { error: e.reason };
    throw e;
  }
}

/** Plain JSON for a result: hex for bytes, decoded fields flattened. */
export function resultToJson(r: FileResult<string, object>): Record<string, unknown> {
  const out: Record<string, unknown> = { path: r.path, status: r.status };
  if (r.reason !== undefined) out.reason = r.reason;
  if (r.value) out.value = r.value.toString('hex');
  if (r.decoded) Object.assign(out, describeValue(r.decoded));
  if (r.warnings && r.warnings.length) out.warnings = r.warnings;
  if (r.details) {
    for (const [k, v] of Object.entries(r.details)) out[k] = Buffer.isBuffer(v) ? v.toString('hex') : v;
  }
  return out;
}

export interface Summary {
  readonly counts: Record<string, number>;
  readonly total: number;
  readonly failed: number;
}

export class SummaryCounter {
  private readonly counts: Record<string, number> = {};
  private total = 0;
  private failedCount = 0;
  add(r: FileResult<string, object>): void {
    this.counts[r.status] = (this.counts[r.status] ?? 0) + 1;
    this.total++;
    if (r.failed) this.failedCount++;
  }
  get failed(): number {
    return this.failedCount;
  }
  summary(): Summary {
    return { counts: { ...this.counts }, total: this.total, failed: this.failedCount };
  }
}
