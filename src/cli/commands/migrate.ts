import type { Argv, CommandModule } from 'yargs';
import {
  GlobalArgs,
  globalOptions,
  ownOptionsFirst,
  outputOptions,
  repeatable,
  SelectionArgs,
  selectionOptions,
  treeOptions,
  warner,
  XattrArgs,
  xattrOptions,
} from '../common.js';
import { Reporter, StopSignal } from '../output.js';
import { FileResult, loadCertificates, migrate, UsageError } from '../../index.js';

interface Args extends GlobalArgs, XattrArgs, SelectionArgs {
  src: string;
  dest: string;
  verify?: boolean;
  cert?: string[];
  force?: boolean;
  'dry-run'?: boolean;
  'keep-sidecars'?: boolean;
}

function verb(r: FileResult): string {
  const carrier = r.details?.carrier;
  if (r.status === 'copied' || r.status === 'signed') {
    const into =
      carrier === 'xattr' ? 'signature into xattr' : carrier === 'sidecar' ? 'signature into sidecar' : 'unsigned';
    return `${r.status} to ${r.details?.dest} (${into})`;
  }
  return r.status;
}

/** The summary's carrier counts: how many files ended up signed where. */
export function carrierCounts(): { add(r: FileResult): void; counts(): Record<string, number> } {
  const c = { 'signed-into-xattr': 0, 'signed-into-sidecar': 0, unsigned: 0 };
  return {
    add(r) {
      if (r.failed || !['copied', 'signed', 'unchanged'].includes(r.status)) return;
      const carrier = r.details?.carrier;
      if (carrier === 'xattr') c['signed-into-xattr']++;
      else if (carrier === 'sidecar') c['signed-into-sidecar']++;
      else c.unsigned++;
    },
    counts: () => ({ ...c }),
  };
}

export const migrateCommand: CommandModule<GlobalArgs, Args> = {
  command: 'migrate <src> <dest>',
  describe: 'Copy SRC to DEST, moving each signature into the best carrier DEST offers (xattr, else sidecar)',
  builder: (y: Argv<GlobalArgs>) => {
    const own = ownOptionsFirst(
      y
        .positional('src', { type: 'string', describe: 'A file, or a directory (with -r) whose contents are copied' })
        .positional('dest', { type: 'string', describe: 'The directory or file name to copy to' }),
    )
      .option('verify', {
        type: 'boolean',
        default: true,
        describe:
          'Copy only files whose signature verifies against --cert or the default certificates ' +
          '(--no-verify: copy without checking signatures; digests are always checked)',
      })
      .option('cert', {
        alias: 'c',
        ...repeatable,
        describe: 'Certificates to verify against (default /etc/keys/x509_evm.der and x509_ima.der, where they exist)',
      })
      .check((a) => {
        if (a.verify === false && (a.cert as string[] | undefined)?.length)
          throw new UsageError('--cert is not used with --no-verify');
        return true;
      })
      .option('force', {
        alias: 'f',
        type: 'boolean',
        describe: 'Replace destination files (or signatures) that differ',
      })
      .option('dry-run', { alias: 'n', type: 'boolean', describe: 'Report what would be done, write nothing' })
      .option('keep-sidecars', {
        type: 'boolean',
        describe: 'Also write sidecars onto a destination that takes xattrs',
      });
    return globalOptions(selectionOptions(xattrOptions(own))) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const [src, dest] = [String(a.src), String(a.dest)];
    const warn = warner(a);
    // Signatures are checked unless --no-verify: against --cert, else the default certificates where they exist.
    const certs = a.verify ? await loadCertificates(a.cert, warn, { allowNone: true }) : [];
    if (a.verify && certs.length === 0)
      warn('no certificate (--cert, /etc/keys/x509_evm.der, /etc/keys/x509_ima.der): signatures were not checked');
    const stop = new StopSignal();
    stop.install();
    const reporter = new Reporter(outputOptions(a), verb);
    const carriers = carrierCounts();
    for await (const r of migrate(src, dest, treeOptions(a, stop), {
      xattrName: a.xattr,
      suffix: a.suffix,
      verify: certs.length > 0,
      certs,
      force: a.force,
      dryRun: a['dry-run'],
      keepSidecars: a['keep-sidecars'],
      recursive: a.recursive,
    })) {
      carriers.add(r);
      reporter.report(r);
    }
    process.exitCode = reporter.finish(stop, carriers.counts());
  },
};
