import type { Argv, CommandModule } from 'yargs';
import { loadCertificates } from '../../crypto/certificate.js';
import { verifyTree, VerifySource } from '../../ops/verify.js';
import {
  checkXattrName,
  GlobalArgs,
  outputOptions,
  requirePaths,
  SelectionArgs,
  selectionOptions,
  treeOptions,
  warner,
} from '../common.js';
import { repeatable } from '../common.js';
import { Reporter, StopSignal } from '../output.js';

interface Args extends GlobalArgs, SelectionArgs {
  cert?: string[];
  from: VerifySource;
}

export const verifyCommand: CommandModule<GlobalArgs, Args> = {
  command: 'verify [paths..]',
  describe: 'Verify the signatures in sidecars and/or security.ima',
  builder: (y: Argv<GlobalArgs>) =>
    selectionOptions(y)
      .option('cert', {
        alias: 'c',
        ...repeatable,
        describe: 'Certificates (PEM, DER, bundles, directories); default /etc/keys/x509_evm.der and x509_ima.der',
      })
      .option('from', {
        type: 'string',
        choices: ['auto', 'sidecar', 'xattr', 'appended'] as const,
        default: 'auto' as VerifySource,
        describe:
          'Which carrier to check (auto: every one present; appended: the signature appended to the file, over its payload)',
      }) as unknown as Argv<Args>,
  handler: async (a) => {
    const paths = requirePaths(a.paths);
    const xattrName = checkXattrName(a.xattr);
    const certs = await loadCertificates(a.cert, warner(a), { allowNone: true });
    const stop = new StopSignal();
    stop.install();
    const reporter = new Reporter({ ...outputOptions(a), nothingSelectedFails: true });
    await reporter.consume(
      verifyTree(paths, treeOptions(a, stop), { certs, from: a.from, xattrName, suffix: a.suffix }),
    );
    process.exitCode = reporter.finish(stop);
  },
};
