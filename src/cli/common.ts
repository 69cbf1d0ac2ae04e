/**
 * Options shared by several commands, and turning them into operation options.
 */
import type { Argv } from 'yargs';
import { HashAlgo, hashAlgoByName, hashingRefusal, signingRefusal, SIGNING_ALGO_NAMES } from '../codec/hash-algo.js';
import { DEFAULT_SUFFIX } from '../carriers/sidecar.js';
import { pairingRefusal } from '../crypto/kernel-support.js';
import type { KeyAlgorithm } from '../crypto/keys.js';
import { DEFAULT_XATTR } from '../carriers/xattr.js';
import { ConfigError } from '../errors.js';
import { TreeOptions } from '../ops/tree.js';
import { OutputOptions, StopSignal } from './output.js';

export interface GlobalArgs {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  xattr: string;
  suffix: string;
  progress?: boolean;
}

export interface SelectionArgs {
  recursive?: boolean;
  include?: string[];
  exclude?: string[];
  'one-file-system'?: boolean;
  jobs?: number;
  paths: string[];
}

export function globalOptions<T>(y: Argv<T>) {
  return y
    .option('json', { type: 'boolean', describe: 'One JSON object per file on stdout, then a summary object' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Print only failures' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'Print warnings, and a stack trace with errors' })
    .option('xattr', {
      type: 'string',
      default: DEFAULT_XATTR,
      describe: 'Extended attribute to use (user.ima for unprivileged tests)',
    })
    .option('suffix', { type: 'string', default: DEFAULT_SUFFIX, describe: 'Sidecar file suffix' })
    .option('progress', {
      type: 'boolean',
      default: true,
      describe: 'Progress line on a terminal (--no-progress turns it off)',
    });
}

export function selectionOptions<T>(y: Argv<T>) {
  return y
    .positional('paths', {
      type: 'string',
      array: true,
      describe:
        'Files, sidecars (X.sig means X), directories (with -r) or quoted glob patterns (for names that do not exist)',
    })
    .option('recursive', { alias: 'r', type: 'boolean', describe: 'Descend into directories' })
    .option('include', { ...repeatable, describe: 'Only files matching GLOB (relative to each directory argument)' })
    .option('exclude', { ...repeatable, describe: 'Skip files and directories matching GLOB' })
    .option('one-file-system', { type: 'boolean', describe: 'Do not descend into other filesystems' })
    .option('jobs', {
      alias: 'j',
      type: 'number',
      describe:
        'Files in flight at once (default: 32 per core, 32..128; migrate: 8 per core, 8..32; lowered to fit ulimit -n)',
    });
}

export function outputOptions(a: GlobalArgs): OutputOptions {
  return { json: a.json, quiet: a.quiet, verbose: a.verbose, progress: a.progress };
}

export function checkXattrName(name: string): string {
  if (!/^(security|user|trusted)\.[^\s]+$/.test(name))
    throw new ConfigError(
      `--xattr must be a namespaced attribute name such as security.ima or user.ima, not "${name}"`,
    );
  return name;
}

export function checkSuffix(suffix: string): string {
  if (suffix.length === 0 || suffix.includes('/'))
    throw new ConfigError(`--suffix must be a non-empty file name suffix, not "${suffix}"`);
  return suffix;
}

export function treeOptions(a: SelectionArgs & GlobalArgs, stop?: StopSignal): TreeOptions {
  if (a.jobs !== undefined && (!Number.isInteger(a.jobs) || a.jobs < 1 || a.jobs > 256))
    throw new ConfigError(`--jobs must be a whole number from 1 to 256`);
  return {
    select: {
      recursive: a.recursive,
      include: a.include,
      exclude: a.exclude,
      oneFileSystem: a['one-file-system'],
      suffix: checkSuffix(a.suffix),
    },
    jobs: a.jobs,
    shouldStop: stop ? () => stop.requested : undefined,
  };
}

export function requirePaths(paths: string[] | undefined): string[] {
  if (!paths || paths.length === 0) throw new ConfigError('no paths given');
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

export function hashingAlgo(name: string): HashAlgo {
  const algo = hashAlgoByName(name);
  if (!algo) throw new ConfigError(`unknown hash algorithm "${name}"`);
  const refusal = hashingRefusal(algo);
  if (refusal) throw new ConfigError(refusal);
  return algo;
}

export function warner(a: GlobalArgs): (m: string) => void {
  return (m) => {
    if (!a.quiet) process.stderr.write(`warning: ${m}\n`);
  };
}

/**
 * A string option that may be given several times. Not yargs' `array`, which
 * would swallow the paths after it (`--cert a.pem file` must not read `file` as a certificate).
 */
export const repeatable = {
  type: 'string',
  coerce: (v: unknown): string[] => (v === undefined ? [] : ([] as unknown[]).concat(v).map(String)),
} as const;
