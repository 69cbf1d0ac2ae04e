import type { Argv, CommandModule } from 'yargs';
import {
  certNeedsVerify,
  GlobalArgs,
  globalOptions,
  outputOptions,
  PathsArgs,
  pathsOperand,
  repeatable,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  treeOptions,
  warner,
  XattrArgs,
  xattrOptions,
} from '../common.js';
import { Reporter, StopSignal } from '../output.js';
import { importTree, loadCertificates } from '../../index.js';

interface Args extends GlobalArgs, XattrArgs, SelectionArgs, PathsArgs {
  verify?: boolean;
  cert?: string[];
  force?: boolean;
  'dry-run'?: boolean;
  'remove-sidecar'?: boolean;
  'require-xattr'?: boolean;
}

export const importCommand: CommandModule<GlobalArgs, Args> = {
  command: 'import <paths..>',
  describe: 'Copy sidecars into security.ima where the filesystem takes xattrs',
  builder: (y: Argv<GlobalArgs>) => {
    const own = pathsOperand(y)
      .option('verify', { type: 'boolean', describe: 'Write only signatures that verify against --cert' })
      .option('cert', { alias: 'c', ...repeatable, describe: 'Certificates for --verify' })
      .check(certNeedsVerify)
      .option('force', { alias: 'f', type: 'boolean', describe: 'Replace a different signature already in the xattr' })
      .option('dry-run', { alias: 'n', type: 'boolean', describe: 'Report what would be done, write nothing' })
      .option('remove-sidecar', {
        type: 'boolean',
        describe: 'Remove each sidecar once its value reads back identical from the xattr',
      })
      .option('require-xattr', {
        type: 'boolean',
        describe: 'A filesystem without xattrs is a failure (exit 1)',
      });
    return globalOptions(selectionOptions(xattrOptions(own))) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const certs = a.verify ? await loadCertificates(a.cert, warner(a)) : undefined;
    const stop = new StopSignal();
    stop.install();
    const reporter = new Reporter(outputOptions(a));
    await reporter.consume(
      importTree(paths, treeOptions(a, stop), {
        xattrName: a.xattr,
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
