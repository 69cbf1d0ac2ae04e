import type { Argv, CommandModule } from 'yargs';
import { loadCertificates } from '../../crypto/certificate.js';
import { ConfigError } from '../../errors.js';
import { importTree } from '../../ops/import.js';
import {
  checkXattrName,
  GlobalArgs,
  outputOptions,
  repeatable,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  treeOptions,
  warner,
} from '../common.js';
import { Reporter, StopSignal } from '../output.js';

interface Args extends GlobalArgs, SelectionArgs {
  verify?: boolean;
  cert?: string[];
  force?: boolean;
  'dry-run'?: boolean;
  'remove-sidecar'?: boolean;
  'require-xattr'?: boolean;
}

export const importCommand: CommandModule<GlobalArgs, Args> = {
  command: 'import [paths..]',
  describe: 'Copy sidecars into security.ima where the filesystem takes xattrs',
  builder: (y: Argv<GlobalArgs>) =>
    selectionOptions(y)
      .option('verify', { type: 'boolean', describe: 'Write only signatures that verify against --cert' })
      .option('cert', { alias: 'c', ...repeatable, describe: 'Certificates for --verify' })
      .option('force', { alias: 'f', type: 'boolean', describe: 'Replace a different signature already in the xattr' })
      .option('dry-run', { alias: 'n', type: 'boolean', describe: 'Report what would be done, write nothing' })
      .option('remove-sidecar', {
        type: 'boolean',
        describe: 'Remove each sidecar once its value reads back identical from the xattr',
      })
      .option('require-xattr', {
        type: 'boolean',
        describe: 'A filesystem without xattrs is a failure (exit 1)',
      }) as unknown as Argv<Args>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const xattrName = checkXattrName(a.xattr);
    if (a.cert?.length && !a.verify) throw new ConfigError('--cert is used only with --verify');
    const certs = a.verify ? await loadCertificates(a.cert, warner(a)) : undefined;
    const stop = new StopSignal();
    stop.install();
    const reporter = new Reporter(outputOptions(a));
    await reporter.consume(
      importTree(paths, treeOptions(a, stop), {
        xattrName,
        suffix: a.suffix,
        verify: a.verify,
        certs,
        force: a.force,
        dryRun: a['dry-run'],
        removeSidecar: a['remove-sidecar'],
        requireXattr: a['require-xattr'],
      }),
    );
    process.exitCode = reporter.finish(stop);
  },
};
