import type { Argv, CommandModule } from 'yargs';
import { GlobalArgs, globalOptions, ownOptionsFirst, outputOptions, requirePaths, warner } from '../common.js';
import { Reporter } from '../output.js';
import { FileResult, keyidsOf } from '../../index.js';

interface Args extends GlobalArgs {
  certs?: string[];
}

/** The keyid sign writes, where it comes from, and the kernel's when it cannot match that one. */
function line(r: FileResult): string {
  if (r.failed || !r.details) return r.status;
  const { keyid, keyidSource, kernelKeyid, subject } = r.details;
  const kernel = kernelKeyid !== keyid ? `; the kernel matches ${kernelKeyid}` : '';
  return `${keyid} (${keyidSource}${kernel}) ${subject}`;
}

export const keyidCommand: CommandModule<GlobalArgs, Args> = {
  command: 'keyid <certs..>',
  describe: 'Print the keyid sign writes for each certificate (and the one the kernel matches, where they differ)',
  builder: (y: Argv<GlobalArgs>) =>
    globalOptions(
      ownOptionsFirst(
        y.positional('certs', {
          type: 'string',
          array: true,
          describe: 'Certificates (PEM, DER, bundles, directories)',
          default: undefined,
        }),
      ),
    ) as unknown as Argv<Args>,
  handler: async (a) => {
    const paths = requirePaths(a.certs);
    const reporter = new Reporter({ ...outputOptions(a), progress: false }, line);
    for (const r of await keyidsOf(paths, warner(a))) reporter.report(r);
    process.exitCode = reporter.finish();
  },
};
