import type { Argv, CommandModule } from 'yargs';
import { keyidsOf } from '../../ops/keyid.js';
import { FileResult } from '../../ops/result.js';
import { GlobalArgs, outputOptions, requirePaths, warner } from '../common.js';
import { Reporter } from '../output.js';

interface Args extends GlobalArgs {
  certs?: string[];
}

const line = (r: FileResult): string =>
  r.failed ? r.status : `${r.details!.keyid} (${r.details!.keyidSource}) ${r.details!.subject}`;

export const keyidCommand: CommandModule<GlobalArgs, Args> = {
  command: 'keyid [certs..]',
  describe: 'Print the keyid the kernel matches for each certificate',
  builder: (y: Argv<GlobalArgs>) =>
    y.positional('certs', {
      type: 'string',
      array: true,
      describe: 'Certificates (PEM, DER, bundles, directories)',
    }) as unknown as Argv<Args>,
  handler: async (a) => {
    const paths = requirePaths(a.certs);
    const reporter = new Reporter({ ...outputOptions(a), progress: false }, line);
    for (const r of await keyidsOf(paths, warner(a))) reporter.report(r);
    process.exitCode = reporter.finish();
  },
};
