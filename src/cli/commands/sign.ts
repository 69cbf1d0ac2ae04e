import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../../errors.js';
import { SIGNING_HASHES } from '../../crypto/kernel-support.js';
import { resolveSigner } from '../../crypto/signer.js';
import { readPassFile } from '../../crypto/keys.js';
import { signTree, SignDestination } from '../../ops/sign.js';
import {
  checkXattrName,
  GlobalArgs,
  knownSigningAlgo,
  outputOptions,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  signingAlgo,
  treeOptions,
  warner,
} from '../common.js';
import { Reporter, StopSignal } from '../output.js';

interface Args extends GlobalArgs, SelectionArgs {
  key?: string;
  cert?: string;
  keyid?: string;
  'hash-algo': string;
  sigv3?: boolean;
  to: SignDestination;
  'pass-file'?: string;
  'dry-run'?: boolean;
  'require-xattr'?: boolean;
}

export const signCommand: CommandModule<GlobalArgs, Args> = {
  command: 'sign [paths..]',
  describe: 'Sign files into sidecars (evmctl format) and/or security.ima',
  builder: (y: Argv<GlobalArgs>) =>
    selectionOptions(y)
      .option('key', {
        alias: 'k',
        type: 'string',
        describe: 'Private key, PEM or DER, or a pkcs11: URI (default /etc/keys/privkey_evm.pem)',
      })
      .option('cert', {
        alias: 'c',
        type: 'string',
        describe: 'Signer certificate: gives the keyid (its subjectKeyIdentifier) and must match the key',
      })
      .option('keyid', { type: 'string', describe: 'Keyid to write, 8 hex digits (overrides the certificate)' })
      .option('hash-algo', {
        alias: 'a',
        type: 'string',
        default: 'sha256',
        describe: `Hash algorithm (${SIGNING_HASHES})`,
      })
      .option('sigv3', { type: 'boolean', describe: 'Version 3 signature (over struct ima_file_id; kernel 7.1+)' })
      .option('to', {
        type: 'string',
        choices: ['sidecar', 'xattr', 'both'] as const,
        default: 'sidecar' as SignDestination,
        describe: 'Where to put the signature',
      })
      .option('pass-file', {
        type: 'string',
        describe: 'File whose first line is the key password (else IMA_SIDECAR_KEY_PASSWORD or EVMCTL_KEY_PASSWORD)',
      })
      .option('dry-run', {
        alias: 'n',
        type: 'boolean',
        describe: 'Compute the signatures, write nothing',
      })
      .option('require-xattr', {
        type: 'boolean',
        describe: 'With --to both, a filesystem without xattrs fails the file (exit 1); else the sidecar is enough',
      }) as unknown as Argv<Args>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    if (a['require-xattr'] && a.to !== 'both') throw new ConfigError('--require-xattr goes with --to both');
    // A misspelt or weak algorithm is refused before the key is read (or a token asked for a PIN).
    knownSigningAlgo(a['hash-algo']);
    const xattrName = checkXattrName(a.xattr);
    const password = a['pass-file'] ? await readPassFile(a['pass-file']) : undefined;
    const signer = await resolveSigner({ keyPath: a.key, certPath: a.cert, keyid: a.keyid, password }, warner(a));
    // After the key: the kernel pairs each key type with its own hashes.
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
        xattrName,
        suffix: a.suffix,
        dryRun: a['dry-run'],
        requireXattr: a['require-xattr'],
      }),
    );
    process.exitCode = reporter.finish(stop);
  },
};
