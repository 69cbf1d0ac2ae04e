import type { Argv, CommandModule } from 'yargs';
import {
  GlobalArgs,
  globalOptions,
  once,
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
import { exportTree } from '../../index.js';

interface Args extends GlobalArgs, XattrArgs, SelectionArgs, PathsArgs {
  force?: boolean;
  'dry-run'?: boolean;
  dest?: string;
}

export const exportCommand: CommandModule<GlobalArgs, Args> = {
  command: 'export <paths..>',
  describe: 'Write security.ima values out to sidecars (beside the files, or in a mirror tree with --dest)',
  builder: (y: Argv<GlobalArgs>) => {
    const own = pathsOperand(y)
      .option('force', { alias: 'f', type: 'boolean', describe: 'Replace a sidecar that holds a different value' })
      .option('dry-run', { alias: 'n', type: 'boolean', describe: 'Report what would be done, write nothing' })
      .option('dest', {
        type: 'string',
        coerce: once('dest'),
        describe: 'Write the sidecars into a mirror tree under DIR (e.g. a FAT partition)',
      });
    return globalOptions(selectionOptions(xattrOptions(own))) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const stop = new StopSignal();
    stop.install();
    const reporter = new Reporter(outputOptions(a));
    await reporter.consume(
      exportTree(paths, treeOptions(a, stop), {
        xattrName: a.xattr,
        suffix: a.suffix,
        force: a.force,
        dryRun: a['dry-run'],
        dest: a.dest,
      }),
    );
    process.exitCode = reporter.finish(stop);
  },
};
