import type { Argv, CommandModule } from 'yargs';
import {
  GlobalArgs,
  globalOptions,
  outputOptions,
  PathsArgs,
  pathsOperand,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  treeOptions,
  XattrArgs,
  xattrOptions,
} from '../common.js';
import { Reporter, StopSignal } from '../output.js';
import { clearTree } from '../../index.js';

interface Args extends GlobalArgs, XattrArgs, SelectionArgs, PathsArgs {
  force?: boolean;
  'dry-run'?: boolean;
}

export const clearCommand: CommandModule<GlobalArgs, Args> = {
  command: 'clear <paths..>',
  describe: 'Remove security.ima, refusing to drop a signature no identical sidecar backs up',
  builder: (y: Argv<GlobalArgs>) => {
    const own = pathsOperand(y)
      .option('force', { alias: 'f', type: 'boolean', describe: 'Remove even a signature that has no sidecar copy' })
      .option('dry-run', { alias: 'n', type: 'boolean', describe: 'Report what would be done, remove nothing' });
    return globalOptions(selectionOptions(xattrOptions(own))) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const stop = new StopSignal();
    stop.install();
    const reporter = new Reporter(outputOptions(a));
    await reporter.consume(
      clearTree(paths, treeOptions(a, stop), {
        xattrName: a.xattr,
        suffix: a.suffix,
        force: a.force,
        dryRun: a['dry-run'],
      }),
    );
    process.exitCode = reporter.finish(stop);
  },
};
