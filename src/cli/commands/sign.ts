import type { Argv, CommandModule } from 'yargs';
import {
  commandLinePassword,
  GlobalArgs,
  globalOptions,
  hashAlgoOption,
  keyOption,
  knownSigningAlgo,
  once,
  outputOptions,
  PasswordArgs,
  passwordOptions,
  PathsArgs,
  pathsOperand,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  signingAlgo,
  treeOptions,
  warner,
  XattrArgs,
  xattrOptions,
} from '../common.js';
import { Reporter, StopSignal } from '../output.js';
import {
  ConfigError,
  SIGNING_ALGO_NAMES,
  SignDestination,
  UsageError,
  loadCertificates,
  parseKeyidHex,
  resolveSigner,
  signTree,
} from '../../index.js';

interface Args extends GlobalArgs, XattrArgs, SelectionArgs, PathsArgs, PasswordArgs {
  key?: string;
  cert?: string;
  keyid?: string;
  'keyid-from-cert'?: string;
  'hash-algo': string;
  sigv3?: boolean;
  to: SignDestination;
  'dry-run'?: boolean;
  'require-xattr'?: boolean;
}

/**
 * The keyid of --keyid-from-cert: the certificate's, as --cert would give it (its SKID, else computed with the
 * same warning), without checking that it matches the key, as evmctl reads it.
 */
async function keyidFromCertificate(path: string, warn: (m: string) => void): Promise<string> {
  const certs = await loadCertificates([path], warn);
  if (certs.length !== 1)
    throw new ConfigError(`${path}: --keyid-from-cert takes one certificate, and this holds ${certs.length}`, path);
  return certs[0]!.keyid;
}

/**
 * What --hash-algo takes before the key is read: the names sign can compute, and streebog, which the kernel
 * pairs with no key type sign takes: refused once the key is known, with that reason rather than "not available".
 */
const SIGN_HASH_NAMES = [...SIGNING_ALGO_NAMES, 'streebog256', 'streebog512'];

export const signCommand: CommandModule<GlobalArgs, Args> = {
  command: 'sign <paths..>',
  describe: 'Sign files into sidecars (evmctl format) and/or security.ima',
  builder: (y: Argv<GlobalArgs>) => {
    const own = keyOption(hashAlgoOption(pathsOperand(y), SIGN_HASH_NAMES, knownSigningAlgo))
      .option('cert', {
        alias: 'c',
        type: 'string',
        coerce: once('cert'),
        describe: 'Signer certificate: gives the keyid (its subjectKeyIdentifier) and must match the key',
      })
      .option('keyid', {
        type: 'string',
        coerce: once('keyid'),
        describe: 'Keyid to write, 8 hex digits (overrides the certificate)',
      })
      .option('keyid-from-cert', {
        type: 'string',
        coerce: once('keyid-from-cert'),
        describe: "Write this certificate's keyid, without checking it against the key (evmctl's --keyid-from-cert)",
      })
      .conflicts('keyid', 'keyid-from-cert')
      .check((a) => {
        if (a.keyid !== undefined) parseKeyidHex(String(a.keyid));
        return true;
      })
      .option('sigv3', { type: 'boolean', describe: 'Version 3 signature (over struct ima_file_id; kernel 7.1+)' })
      .option('to', {
        type: 'string',
        choices: ['sidecar', 'xattr', 'both'] as const,
        default: 'sidecar' as SignDestination,
        coerce: once('to'),
        describe: 'Where to put the signature',
      })
      .option('dry-run', { alias: 'n', type: 'boolean', describe: 'Compute the signatures, write nothing' })
      .option('require-xattr', {
        type: 'boolean',
        describe: 'With --to both, a filesystem without xattrs fails the file (exit 1); else the sidecar is enough',
      })
      .check((a) => {
        if (a['require-xattr'] && a.to !== 'both') throw new UsageError('--require-xattr goes with --to both');
        return true;
      });
    return globalOptions(selectionOptions(xattrOptions(passwordOptions(own)))) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const warn = warner(a);
    const password = await commandLinePassword(a, warn);
    const keyid = a['keyid-from-cert'] !== undefined ? await keyidFromCertificate(a['keyid-from-cert'], warn) : a.keyid;
    const signer = await resolveSigner({ keyPath: a.key, certPath: a.cert, keyid, password }, warn);
    // After the key: the kernel pairs each key type with its own hashes (the name was checked before any work).
    const hashAlgo = signingAlgo(a['hash-algo'], signer.key);
    const stop = new StopSignal();
    stop.install();
    const reporter = new Reporter(outputOptions(a));
    await reporter.consume(
      signTree(paths, treeOptions(a, stop), {
        key: signer.key,
        keyid: signer.keyid,
        hashAlgo,
        version: a.sigv3 ? 3 : 2,
        to: a.to,
        xattrName: a.xattr,
        suffix: a.suffix,
        dryRun: a['dry-run'],
        requireXattr: a['require-xattr'],
      }),
    );
    process.exitCode = reporter.finish(stop);
  },
};
