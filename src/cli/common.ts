/**
 * Options shared by several commands, their usage checks, and turning them into operation options.
 *
 * Every usage check runs in yargs (choices, conflicts, coerce, check) before a command's handler, so an option
 * combination that makes no sense stops the run before any file, key or certificate is opened.
 */
import type { Argv } from 'yargs';
import { OutputOptions, StopSignal } from './output.js';
import {
  ConfigError,
  DEFAULT_SUFFIX,
  DEFAULT_XATTR,
  HashAlgo,
  SIGNING_ALGO_NAMES,
  TreeOptions,
  UsageError,
  hashAlgoByName,
  hashingAlgoNames,
  hashingRefusal,
  pairingRefusal,
  readPassFile,
  signingRefusal,
} from '../index.js';
import type { KeyAlgorithm } from '../index.js';

/** The output options, which every command but `completion` takes. */
export interface GlobalArgs {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/** The attribute options, for the commands that read or write an extended attribute. */
export interface XattrArgs {
  /** The attribute name, --xattr-user resolved, checked (by xattrOptions' check). */
  xattr: string;
  'xattr-user'?: boolean;
}

/** The tree options, for the commands that take PATH... */
export interface SelectionArgs {
  recursive?: boolean;
  include?: string[];
  exclude?: string[];
  'one-file-system'?: boolean;
  jobs?: number;
  suffix: string;
  progress?: boolean;
}

export interface PathsArgs {
  paths: string[];
}

export interface PasswordArgs {
  pass?: string;
  'pass-file'?: string;
}

// The group names --help shows; the man page has a section of each name (SHARED OPTIONS).
const OUTPUT_GROUP = 'Output options:';
const XATTR_GROUP = 'Attribute options:';
const TREE_GROUP = 'Tree options:';

/** The output options: every command's but completion's (so global in all but yargs' sense). */
export function globalOptions<T>(y: Argv<T>) {
  return y
    .option('json', { type: 'boolean', describe: 'One JSON object per file on stdout, then a summary object' })
    .option('quiet', {
      alias: 'q',
      type: 'boolean',
      describe: 'Print only failures: no line per file done, no warnings, no summary',
    })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'Add a stack trace to each error' })
    .group(['json', 'quiet', 'verbose'], OUTPUT_GROUP);
}

export function xattrOptions<T>(y: Argv<T>) {
  return y
    .option('xattr', {
      type: 'string',
      coerce: once('xattr'),
      defaultDescription: DEFAULT_XATTR,
      describe: 'Extended attribute to use (user.ima for unprivileged tests)',
    })
    .option('xattr-user', { type: 'boolean', describe: "Same as --xattr user.ima (evmctl's --xattr-user)" })
    .group(['xattr', 'xattr-user'], XATTR_GROUP)
    .check((a) => {
      const args = a as unknown as { xattr?: string; 'xattr-user'?: boolean };
      args.xattr = xattrName(args);
      return true;
    });
}

/** The attribute --xattr and --xattr-user name; --xattr-user with another --xattr is a usage error. */
export function xattrName(a: { xattr?: string; 'xattr-user'?: boolean }): string {
  if (a['xattr-user']) {
    if (a.xattr !== undefined && a.xattr !== 'user.ima')
      throw new UsageError(`--xattr-user means --xattr user.ima: it cannot go with --xattr ${a.xattr}`);
    return 'user.ima';
  }
  return checkXattrName(a.xattr ?? DEFAULT_XATTR);
}

/** --help lists a command's operands, its own options, then the shared groups: call this after the operands. */
export function ownOptionsFirst<T>(y: Argv<T>): Argv<T> {
  return y.group(['help', 'version'], 'Options:');
}

/** The PATH... operand of the commands that take files, sidecars or directories. */
export function pathsOperand<T>(y: Argv<T>) {
  return ownOptionsFirst(
    y.positional('paths', {
      type: 'string',
      array: true,
      describe:
        'Files, sidecars (X.sig means X), directories (with -r) or quoted glob patterns (for names that do not exist)',
      default: undefined,
    }),
  );
}

export function selectionOptions<T>(y: Argv<T>) {
  return y
    .option('recursive', { alias: 'r', type: 'boolean', describe: 'Descend into directories' })
    .option('include', { ...repeatable, describe: 'Only files matching GLOB (relative to each directory argument)' })
    .option('exclude', { ...repeatable, describe: 'Skip files and directories matching GLOB' })
    .option('one-file-system', { type: 'boolean', describe: 'Do not descend into other filesystems' })
    .option('suffix', {
      type: 'string',
      default: DEFAULT_SUFFIX,
      coerce: once('suffix'),
      describe: 'Sidecar file suffix',
    })
    .option('jobs', {
      alias: 'j',
      type: 'number',
      coerce: once('jobs'),
      describe:
        'Files in flight at once (default: 32 per core, 32..128; migrate: 8 per core, 8..32; lowered to fit ulimit -n)',
    })
    .option('progress', {
      type: 'boolean',
      default: true,
      describe: 'Progress line on a terminal (--no-progress turns it off)',
    })
    .group(['recursive', 'include', 'exclude', 'one-file-system', 'suffix', 'jobs', 'progress'], TREE_GROUP)
    .check((a) => {
      checkSelection(a as unknown as SelectionArgs);
      return true;
    });
}

function checkSelection(a: SelectionArgs): void {
  if (a.jobs !== undefined && (!Number.isInteger(a.jobs) || a.jobs < 1 || a.jobs > 256))
    throw new UsageError(`--jobs must be a whole number from 1 to 256`);
  checkSuffix(a.suffix);
  // Without -r only named files are done, and the walk's filters never see them: say so rather than ignore them.
  if (!a.recursive) {
    const filters = [
      a.include?.length ? '--include' : '',
      a.exclude?.length ? '--exclude' : '',
      a['one-file-system'] ? '--one-file-system' : '',
    ].filter(Boolean);
    if (filters.length) throw new UsageError(`${filters.join(' and ')} select files below directories: give -r`);
  }
}

/** A yargs check for import and migrate, where --cert is what --verify verifies against. */
export function certNeedsVerify(a: { cert?: unknown; verify?: unknown }): true {
  if (Array.isArray(a.cert) && a.cert.length > 0 && !a.verify)
    throw new UsageError('--cert is used only with --verify');
  return true;
}

export function outputOptions(a: GlobalArgs & { progress?: boolean }): OutputOptions {
  return { json: a.json, quiet: a.quiet, verbose: a.verbose, progress: a.progress };
}

export function checkXattrName(name: string): string {
  if (!/^(security|user|trusted)\.[^\s]+$/.test(name))
    throw new UsageError(`--xattr must be a namespaced attribute name such as security.ima or user.ima, not "${name}"`);
  return name;
}

export function checkSuffix(suffix: string): string {
  if (suffix.length === 0 || suffix.includes('/'))
    throw new UsageError(`--suffix must be a non-empty file name suffix, not "${suffix}"`);
  return suffix;
}

/** Tree options from arguments selectionOptions has checked. */
export function treeOptions(a: SelectionArgs, stop?: StopSignal): TreeOptions {
  return {
    select: {
      recursive: a.recursive,
      include: a.include,
      exclude: a.exclude,
      oneFileSystem: a['one-file-system'],
      suffix: a.suffix,
    },
    jobs: a.jobs,
    signal: stop?.abortSignal,
    rollback: stop?.rollbackSignal,
  };
}

export function requirePaths(paths: string[] | undefined): string[] {
  if (!paths || paths.length === 0) throw new UsageError('no paths given');
  return paths.map(String);
}

/**
 * An algorithm to sign with: known, not too weak, one the kernel pairs with
 * the key's type (when the key is given), and computable here.
 */
export function signingAlgo(name: string, key?: { readonly algorithm: KeyAlgorithm }): HashAlgo {
  const algo = knownSigningAlgo(name);
  const refusal = (key && pairingRefusal(key, algo)) ?? signingRefusal(algo);
  if (refusal) throw new ConfigError(refusal);
  return algo;
}

/** The checks that need no key: a known algorithm, not too weak. */
export function knownSigningAlgo(name: string): HashAlgo {
  const algo = hashAlgoByName(name);
  if (!algo) throw new ConfigError(`unknown hash algorithm "${name}" (one of ${SIGNING_ALGO_NAMES.join(', ')})`);
  if (algo.weak) throw new ConfigError(signingRefusal(algo)!);
  return algo;
}

/** What hash computes here (md4 refused: evmctl's only form for it is one the kernel reads as md5). */
export const HASHING_ALGO_NAMES = hashingAlgoNames();

export function hashingAlgo(name: string): HashAlgo {
  const algo = hashAlgoByName(name);
  if (!algo) throw new ConfigError(`unknown hash algorithm "${name}" (one of ${HASHING_ALGO_NAMES.join(', ')})`);
  const refusal = hashingRefusal(algo);
  if (refusal) throw new ConfigError(refusal);
  return algo;
}

/** -k/--key: the private key, for the commands that sign. */
export function keyOption<T>(y: Argv<T>) {
  return y.option('key', {
    alias: 'k',
    type: 'string',
    coerce: once('key'),
    describe: 'Private key, PEM or DER, or a pkcs11: URI (default /etc/keys/privkey_evm.pem)',
  });
}

/**
 * -a/--hash-algo (evmctl's -a/--hashalgo), default sha256. `choose` refuses a name with its reason; a name it
 * takes becomes the kernel's (SHA256 and OpenSSL's ripemd160 are accepted as evmctl's sha256 and rmd160).
 */
export function hashAlgoOption<T>(y: Argv<T>, names: readonly string[], choose: (name: string) => HashAlgo) {
  return y.option('hash-algo', {
    alias: ['a', 'hashalgo'],
    type: 'string',
    default: 'sha256',
    choices: names,
    coerce: (v: unknown) => choose(String(single('hash-algo', v))).name,
    describe: 'Hash algorithm',
  });
}

/** --pass-file and -p/--pass, for the commands that take a private key. */
export function passwordOptions<T>(y: Argv<T>) {
  return y
    .option('pass-file', {
      type: 'string',
      coerce: once('pass-file'),
      describe: 'File whose first line is the key password',
    })
    .option('pass', {
      alias: 'p',
      type: 'string',
      coerce: once('pass'),
      describe:
        "The key password (evmctl's -p/--pass), visible to other users: prefer --pass-file or IMA_SIDECAR_KEY_PASSWORD",
    })
    .conflicts('pass', 'pass-file')
    .check((a) => {
      // yargs gives '' for a --pass without a value, where evmctl would prompt: not an empty password by mistake.
      if ((a as PasswordArgs).pass === '')
        throw new UsageError('--pass needs the password as its value (--pass=PASSWORD); or use --pass-file');
      return true;
    });
}

/**
 * The key password from the command line, or undefined to let the environment give it: an option wins over
 * IMA_SIDECAR_KEY_PASSWORD, which wins over EVMCTL_KEY_PASSWORD (keys.ts keyPassword).
 */
export async function commandLinePassword(a: PasswordArgs, warn: (m: string) => void): Promise<string | undefined> {
  if (a.pass !== undefined) {
    warn(
      '--pass: a password on the command line is visible to other users (ps, /proc); ' +
        'use --pass-file or IMA_SIDECAR_KEY_PASSWORD',
    );
    return a.pass;
  }
  return a['pass-file'] !== undefined ? readPassFile(a['pass-file']) : undefined;
}

export function warner(a: GlobalArgs): (m: string) => void {
  return (m) => {
    if (!a.quiet) process.stderr.write(`warning: ${m}\n`);
  };
}

function single(name: string, v: unknown): unknown {
  if (Array.isArray(v)) throw new UsageError(`--${name} given more than once`);
  return v;
}

/** A coerce for an option that takes one value: given twice, yargs would make an array no command expects. */
export function once(name: string): (v: unknown) => unknown {
  return (v) => single(name, v);
}

/**
 * A string option that may be given several times. Not yargs' `array`, which
 * would swallow the paths after it (`--cert a.pem file` must not read `file` as a certificate).
 */
export const repeatable = {
  type: 'string',
  coerce: (v: unknown): string[] => (v === undefined ? [] : ([] as unknown[]).concat(v).map(String)),
} as const;
