import type { Argv, CommandModule } from 'yargs';
import {
  commandLinePassword,
  GlobalArgs,
  globalOptions,
  hashAlgoOption,
  keyOption,
  once,
  outputOptions,
  PasswordArgs,
  passwordOptions,
  PathsArgs,
  pathsOperand,
  repeatable,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  signingAlgo,
  treeOptions,
  warner,
} from '../common.js';
import { Reporter, StopSignal } from '../output.js';
import {
  CMS_SIGNING_ALGOS,
  ConfigError,
  FileResult,
  HashAlgo,
  SignerIdForm,
  UsageError,
  attachModsigTree,
  buildRefusal,
  detachModsigTree,
  inspectModsigTree,
  isPattern,
  loadCertificates,
  resolveSigner,
  signModsigTree,
  stripModsigTree,
  verifyModsigTree,
} from '../../index.js';

interface OutputArgs {
  output?: string;
}

const SIGNER_IDS = ['issuer-serial', 'skid'] as const;

/** --signer-id, for sign and attach: how the PKCS#7 they build names its signer. */
const SIGNER_ID_OPTION = {
  type: 'string',
  choices: SIGNER_IDS,
  default: 'issuer-serial' as SignerIdForm,
  coerce: once('signer-id'),
  describe: 'How the PKCS#7 names the signer (skid is sign-file -k)',
} as const;

/** --output names one file: only with a single path and without -r. */
function checkOutput(a: { recursive?: boolean; paths?: string[]; output?: unknown }): true {
  if (a.output === undefined) return true;
  // A pattern may match several files, which would all be written to the one output.
  if ((a.paths ?? []).length !== 1 || a.recursive || isPattern(String(a.paths![0])))
    throw new UsageError('--output takes a single FILE (no -r, no further paths, no pattern)');
  if (a.output === '') throw new UsageError('--output needs a file name');
  return true;
}

function outputOption<T>(y: Argv<T>, describe: string) {
  return y.option('output', { alias: 'o', type: 'string', coerce: once('output'), describe }).check(checkOutput);
}

/** Every subcommand's files, tree and output options around its own. */
function subcommandOptions<T>(own: Argv<T>) {
  return globalOptions(selectionOptions(own));
}

/** Runs a tree operation with the usual reporting, signals and exit code. */
async function report(
  a: GlobalArgs,
  results: (stop: StopSignal) => AsyncGenerator<FileResult>,
  verb?: (r: FileResult) => string,
): Promise<void> {
  const stop = new StopSignal();
  stop.install();
  const reporter = new Reporter(outputOptions(a), verb);
  await reporter.consume(results(stop));
  process.exitCode = reporter.finish(stop);
}

function d(r: FileResult, k: string): unknown {
  return r.details?.[k];
}

function inspectVerb(r: FileResult): string {
  if (r.failed || !r.details) return r.status;
  const lines = [`${r.status}: payload ${d(r, 'payloadLength')} bytes, sig_len ${d(r, 'sigLen')}`];
  const keys = [
    'idTypeName',
    'signedDataVersion',
    'contentType',
    'detached',
    'signerInfoVersion',
    'digestAlgorithm',
    'signatureAlgorithm',
    'signerId',
    'issuer',
    'serial',
    'skid',
    'keyid',
    'signedAttributes',
    'unsignedAttributes',
    'certificates',
    'signatureSize',
  ];
  for (const k of keys) if (d(r, k) !== undefined) lines.push(`  ${k}: ${String(d(r, k))}`);
  for (const w of r.warnings ?? []) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

function verifyVerb(r: FileResult): string {
  if (r.failed) return r.status;
  const bits = [
    d(r, 'digestAlgorithm'),
    d(r, 'signatureAlgorithm'),
    d(r, 'keyid') ? `keyid ${d(r, 'keyid')}` : undefined,
    `signer ${d(r, 'signer')}`,
  ].filter(Boolean);
  return `${r.status} (${bits.join(', ')}; covers the first ${d(r, 'payloadLength')} bytes)`;
}

function writeVerb(r: FileResult): string {
  if (r.failed) return r.status;
  const out = d(r, 'output') ? ` into ${d(r, 'output')}` : '';
  switch (r.status) {
    case 'stripped':
      return `stripped (${d(r, 'removed')} bytes removed)${out}`;
    case 'signed':
    case 'replaced':
      return `${r.status} (${d(r, 'hashAlgo')}, ${d(r, 'signerId')}, ${d(r, 'sigLen')}-byte PKCS#7)${out}`;
    case 'detached': {
      const keyid = r.decoded?.kind === 'signature' ? r.decoded.keyid : '';
      return `detached (v2 ${r.decoded?.algo.name} keyid ${keyid} into ${d(r, 'sidecar')})${out}`;
    }
    case 'attached': {
      const removed = d(r, 'sidecarRemoved') ? ', sidecar removed' : '';
      return `attached (${d(r, 'signerId')}, ${d(r, 'sigLen')}-byte PKCS#7, from ${d(r, 'sidecar')}${removed})${out}`;
    }
    default:
      return r.status;
  }
}

type InspectArgs = GlobalArgs & SelectionArgs & PathsArgs;

const inspectSub: CommandModule<GlobalArgs, InspectArgs> = {
  command: 'inspect <paths..>',
  describe: 'Show the trailer and PKCS#7 fields of appended signatures and what is wrong with them',
  builder: (y: Argv<GlobalArgs>) => subcommandOptions(pathsOperand(y)) as unknown as Argv<InspectArgs>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    await report(a, (stop) => inspectModsigTree(paths, treeOptions(a, stop)), inspectVerb);
  },
};

interface VerifyArgs extends GlobalArgs, SelectionArgs, PathsArgs {
  cert?: string[];
}

const verifySub: CommandModule<GlobalArgs, VerifyArgs> = {
  command: 'verify <paths..>',
  describe: 'Verify appended signatures over their payloads with certificates',
  builder: (y: Argv<GlobalArgs>) =>
    subcommandOptions(
      pathsOperand(y).option('cert', {
        alias: 'c',
        ...repeatable,
        describe: 'Certificates (PEM, DER, bundles, directories); default /etc/keys/x509_evm.der and x509_ima.der',
      }),
    ) as unknown as Argv<VerifyArgs>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const certs = await loadCertificates(a.cert, warner(a));
    await report(a, (stop) => verifyModsigTree(paths, treeOptions(a, stop), { certs }), verifyVerb);
  },
};

interface StripArgs extends GlobalArgs, SelectionArgs, PathsArgs, OutputArgs {}

const stripSub: CommandModule<GlobalArgs, StripArgs> = {
  command: 'strip <paths..>',
  describe: 'Remove appended signatures, leaving the payload (in place, atomically, unless --output)',
  builder: (y: Argv<GlobalArgs>) =>
    subcommandOptions(
      outputOption(pathsOperand(y), 'Write the payload to this file instead (one FILE only)'),
    ) as unknown as Argv<StripArgs>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    await report(a, (stop) => stripModsigTree(paths, treeOptions(a, stop), { output: a.output }), writeVerb);
  },
};

interface SignArgs extends GlobalArgs, SelectionArgs, PathsArgs, OutputArgs, PasswordArgs {
  key?: string;
  cert?: string;
  'hash-algo': string;
  'signer-id': SignerIdForm;
  force?: boolean;
}

/** An algorithm a PKCS#7 appended signature can name. */
function cmsSigningAlgo(name: string): HashAlgo {
  const algo = signingAlgo(name);
  if (!CMS_SIGNING_ALGOS.includes(algo.name))
    throw new ConfigError(
      `hash algorithm ${algo.name} cannot be used in an appended signature (one of ${CMS_SIGNING_ALGOS.join(', ')})`,
    );
  return algo;
}

const signSub: CommandModule<GlobalArgs, SignArgs> = {
  command: 'sign <paths..>',
  describe: "Append a signature exactly as the kernel's scripts/sign-file does",
  builder: (y: Argv<GlobalArgs>) => {
    const own = keyOption(
      hashAlgoOption(
        outputOption(pathsOperand(y), 'Write the signed file here instead (one FILE only)'),
        CMS_SIGNING_ALGOS,
        cmsSigningAlgo,
      ),
    )
      .option('cert', {
        alias: 'c',
        type: 'string',
        coerce: once('cert'),
        describe:
          "The signer's certificate (unless the key file or token holds it): its issuer and serial or SKID " +
          'go into the PKCS#7',
      })
      .option('signer-id', SIGNER_ID_OPTION)
      .option('force', {
        alias: 'f',
        type: 'boolean',
        describe: 'Replace an appended signature that is already there',
      });
    return subcommandOptions(passwordOptions(own)) as unknown as Argv<SignArgs>;
  },
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const hashAlgo = cmsSigningAlgo(a['hash-algo']);
    const warn = warner(a);
    const password = await commandLinePassword(a, warn);
    // Held back until the certificate is found: without one, the keyid warnings are beside the point.
    const warnings: string[] = [];
    const signer = await resolveSigner({ keyPath: a.key, certPath: a.cert, password }, (m) => warnings.push(m));
    // The certificate may also be the one beside the key: in its PEM file, or on its token.
    const cert = signer.cert;
    if (!cert)
      throw new ConfigError(
        "modsig sign needs --cert: the PKCS#7 names its signer by the certificate's issuer and serial (or SKID)",
      );
    warnings.forEach(warn);
    const refusal = buildRefusal(cert, hashAlgo, a['signer-id']);
    if (refusal) throw new ConfigError(refusal);
    await report(
      a,
      (stop) =>
        signModsigTree(paths, treeOptions(a, stop), {
          key: signer.key,
          cert,
          hashAlgo,
          signerId: a['signer-id'],
          output: a.output,
          force: a.force,
        }),
      writeVerb,
    );
  },
};

interface DetachArgs extends GlobalArgs, SelectionArgs, PathsArgs, OutputArgs {
  cert?: string[];
}

const detachSub: CommandModule<GlobalArgs, DetachArgs> = {
  command: 'detach <paths..>',
  describe: 'Turn an appended signature into the payload plus an evmctl v2 sidecar (FILE.sig)',
  builder: (y: Argv<GlobalArgs>) =>
    subcommandOptions(
      outputOption(
        pathsOperand(y),
        'Write the payload here (and its sidecar beside it) instead of in place (one FILE only)',
      ).option('cert', {
        alias: 'c',
        ...repeatable,
        describe:
          "The signer's certificate: verifies the signature and gives the keyid when the PKCS#7 names the signer " +
          'by issuer and serial',
      }),
    ) as unknown as Argv<DetachArgs>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const certs = await loadCertificates(a.cert, warner(a));
    await report(
      a,
      (stop) => detachModsigTree(paths, treeOptions(a, stop), { certs, output: a.output, suffix: a.suffix }),
      writeVerb,
    );
  },
};

interface AttachArgs extends GlobalArgs, SelectionArgs, PathsArgs, OutputArgs {
  cert?: string[];
  'signer-id': SignerIdForm;
  'keep-sidecar'?: boolean;
}

const attachSub: CommandModule<GlobalArgs, AttachArgs> = {
  command: 'attach <paths..>',
  describe: 'Turn FILE plus its v2 sidecar into FILE with an appended signature (as sign-file would make it)',
  builder: (y: Argv<GlobalArgs>) =>
    subcommandOptions(
      outputOption(
        pathsOperand(y),
        'Write the signed file here instead of in place (one FILE only; the sidecar is kept)',
      )
        .option('cert', {
          alias: 'c',
          ...repeatable,
          describe:
            "The signer's certificate, found by the sidecar's keyid; its issuer and serial or SKID go into the PKCS#7",
        })
        .option('signer-id', SIGNER_ID_OPTION)
        .option('keep-sidecar', {
          type: 'boolean',
          describe: 'Keep FILE.sig after attaching in place (it no longer matches the file)',
        }),
    ) as unknown as Argv<AttachArgs>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const certs = await loadCertificates(a.cert, warner(a));
    await report(
      a,
      (stop) =>
        attachModsigTree(paths, treeOptions(a, stop), {
          certs,
          signerId: a['signer-id'],
          suffix: a.suffix,
          output: a.output,
          keepSidecar: a['keep-sidecar'],
        }),
      writeVerb,
    );
  },
};

export const modsigCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'modsig <subcommand>',
  describe: 'Appended ("module") signatures: inspect, verify, strip, sign, detach to a sidecar, attach from one',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .command(inspectSub as never)
      .command(verifySub as never)
      .command(stripSub as never)
      .command(signSub as never)
      .command(detachSub as never)
      .command(attachSub as never)
      .demandCommand(1, 'give a modsig subcommand: inspect, verify, strip, sign, detach or attach'),
  handler: () => {},
};
