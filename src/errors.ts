/**
 * Typed errors. Every error a user can cause is one of these; the CLI prints
 * `path: reason` and maps `kind` to an exit code, so no stack trace reaches the user.
 */

/** A value (security.ima, sidecar, appended signature, certificate) is malformed. */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Configuration or usage: bad key, bad certificate, bad option. Exit code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

/** The command line itself is wrong (unknown option, bad choice, missing argument). Exit code 2, before any work. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A per-file failure with a reason a person can act on. Exit code 1. */
export class FileError extends Error {
  override readonly name = 'FileError';
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly code?: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

const errnoReasons: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only filesystem',
  ENOSPC: 'no space left on device (ENOSPC)',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'is a symbolic link',
  EIO: 'input/output error',
  EEXIST: 'already exists',
  EXDEV: 'crosses a filesystem boundary',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  EBUSY: 'device or resource busy',
};

/** Turns a Node system error into a short reason, keeping the errno name visible. */
export function describeSystemError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') {
    const text = errnoReasons[e.code];
    if (text) return text.includes(e.code) ? text : `${text} (${e.code})`;
    return `${e.code}: ${e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')}`;
  }
  if (err instanceof FormatError || err instanceof FileError || err instanceof ConfigError) {
    return err instanceof FileError ? err.reason : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
