import type { Argv, CommandModule } from 'yargs';
import { hashingAlgoNames } from '../../codec/hash-algo.js';
import { hashTree, HashDestination } from '../../ops/hash.js';
import { FileResult } from '../../ops/result.js';
import { forEachResult } from '../../ops/tree.js';
import {
  checkXattrName,
  GlobalArgs,
  hashingAlgo,
  outputOptions,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  treeOptions,
} from '../common.js';
import { printable, Reporter, StopSignal, writeErr, writeOut } from '../output.js';

interface Args extends GlobalArgs, SelectionArgs {
  'hash-algo': string;
  to: HashDestination;
  force?: boolean;
}

export const hashCommand: CommandModule<GlobalArgs, Args> = {
  command: 'hash [paths..]',
  describe: 'Compute the digest value evmctl ima_hash writes (0x01 for md5 and sha1, 0x04 otherwise)',
  builder: (y: Argv<GlobalArgs>) =>
    selectionOptions(y)
      .option('hash-algo', {
        alias: 'a',
        type: 'string',
        default: 'sha256',
        describe: `Hash algorithm (${hashingAlgoNames().join(', ')})`,
      })
      .option('to', {
        type: 'string',
        choices: ['stdout', 'sidecar', 'xattr'] as const,
        default: 'stdout' as HashDestination,
        describe: 'Print the value, or write it to a sidecar or the xattr',
      })
      .option('force', {
        alias: 'f',
        type: 'boolean',
        describe: 'Replace a signature in the sidecar or xattr with the digest',
      }) as unknown as Argv<Args>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const hashAlgo = hashingAlgo(a['hash-algo']);
    const xattrName = checkXattrName(a.xattr);
    const stop = new StopSignal();
    stop.install();
    // On stdout the value comes first, as sha256sum prints: `VALUE  PATH`.
    const verb = (r: FileResult): string => r.status;
    const reporter = new Reporter(outputOptions(a), verb);
    const results = hashTree(paths, treeOptions(a, stop), {
      hashAlgo,
      to: a.to,
      xattrName,
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
