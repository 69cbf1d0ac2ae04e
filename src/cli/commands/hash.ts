import type { Argv, CommandModule } from 'yargs';
import {
  GlobalArgs,
  globalOptions,
  hashAlgoOption,
  HASHING_ALGO_NAMES,
  hashingAlgo,
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
import { printable, Reporter, StopSignal, writeErr, writeOut } from '../output.js';
import { FileResult, HashDestination, UsageError, forEachResult, hashTree } from '../../index.js';

interface Args extends GlobalArgs, XattrArgs, SelectionArgs, PathsArgs {
  'hash-algo': string;
  to: HashDestination;
  force?: boolean;
}

export const hashCommand: CommandModule<GlobalArgs, Args> = {
  command: 'hash <paths..>',
  describe: 'Compute the digest value evmctl ima_hash writes (0x01 for md5 and sha1, 0x04 otherwise)',
  builder: (y: Argv<GlobalArgs>) => {
    const own = hashAlgoOption(pathsOperand(y), HASHING_ALGO_NAMES, hashingAlgo)
      .option('to', {
        type: 'string',
        choices: ['stdout', 'sidecar', 'xattr'] as const,
        default: 'stdout' as HashDestination,
        coerce: once('to'),
        describe: 'Print the value, or write it to a sidecar or the xattr',
      })
      .option('force', {
        alias: 'f',
        type: 'boolean',
        describe: 'Replace a signature in the sidecar or xattr with the digest',
      })
      .check((a) => {
        if (a.force && a.to === 'stdout') throw new UsageError('--force replaces a value: give --to sidecar or xattr');
        return true;
      });
    return globalOptions(selectionOptions(xattrOptions(own))) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const hashAlgo = hashingAlgo(a['hash-algo']);
    const stop = new StopSignal();
    stop.install();
    // On stdout the value comes first, as sha256sum prints: `VALUE  PATH`.
    const verb = (r: FileResult): string => r.status;
    const reporter = new Reporter(outputOptions(a), verb);
    const results = hashTree(paths, treeOptions(a, stop), {
      hashAlgo,
      to: a.to,
      xattrName: a.xattr,
      suffix: a.suffix,
      force: a.force,
    });
    if (a.to === 'stdout' && !a.json) {
      await forEachResult(results, (r) => {
        reporter.counter.add(r);
        if (r.value) writeOut(`${r.value.toString('hex')}  ${printable(r.path)}\n`);
        else writeErr(`${printable(r.path)}: ${r.status}${r.reason ? `: ${r.reason}` : ''}\n`);
      });
    } else {
      await reporter.consume(results);
    }
    process.exitCode = reporter.finish(stop);
  },
};
