import type { Argv, CommandModule } from 'yargs';
import {
  GlobalArgs,
  globalOptions,
  once,
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
import { VerifySource, loadCertificates, verifyTree } from '../../index.js';

interface Args extends GlobalArgs, XattrArgs, SelectionArgs, PathsArgs {
  cert?: string[];
  from: VerifySource;
}

export const verifyCommand: CommandModule<GlobalArgs, Args> = {
  command: 'verify <paths..>',
  describe: 'Verify the signatures in sidecars and/or security.ima',
  builder: (y: Argv<GlobalArgs>) => {
    const own = pathsOperand(y)
      .option('cert', {
        alias: 'c',
        ...repeatable,
        describe: 'Certificates (PEM, DER, bundles, directories); default /etc/keys/x509_evm.der and x509_ima.der',
      })
      .option('from', {
        type: 'string',
        choices: ['auto', 'sidecar', 'xattr', 'appended'] as const,
        default: 'auto' as VerifySource,
        coerce: once('from'),
        describe:
          'Which carrier to check (auto: every one present; appended: the signature appended to the file, ' +
          'over its payload)',
      });
    return globalOptions(selectionOptions(xattrOptions(own))) as unknown as Argv<Args>;
  },
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const certs = await loadCertificates(a.cert, warner(a), { allowNone: true });
    const stop = new StopSignal();
    stop.install();
    const reporter = new Reporter({ ...outputOptions(a), nothingSelectedFails: true });
    await reporter.consume(
      verifyTree(paths, treeOptions(a, stop), { certs, from: a.from, xattrName: a.xattr, suffix: a.suffix }),
    );
    process.exitCode = reporter.finish(stop);
  },
};
