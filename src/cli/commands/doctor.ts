import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_SUFFIX, HOOK_NAMES } from '../../index.js';
import type { HookName } from '../../index.js';
import { GlobalArgs, globalOptions, once, ownOptionsFirst, pathsOperand, repeatable, xattrOptions } from '../common.js';
import type { DoctorArgs } from '../doctor-output.js';

export const doctorCommand: CommandModule<GlobalArgs, DoctorArgs> = {
  command: 'doctor <paths..>',
  describe: "Predict the kernel's IMA appraisal verdict for each file, say why, and how to fix it",
  builder: (y: Argv<GlobalArgs>) =>
    globalOptions(
      xattrOptions(
        ownOptionsFirst(
          pathsOperand(y)
            .option('hook', {
              choices: HOOK_NAMES,
              default: 'read' as HookName,
              coerce: once('hook'),
              describe:
                'The access to predict: read (FILE_CHECK), exec (BPRM_CHECK), mmap, module, firmware, kexec, ...',
            })
            .option('policy', {
              type: 'string',
              coerce: once('policy'),
              describe: 'The IMA policy in force (the kernel cannot show it back)',
            })
            .option('cert', {
              alias: 'c',
              ...repeatable,
              describe: "Certificates of the keys in the kernel's _ima keyring",
            })
            .option('appraise', {
              choices: ['enforce', 'fix', 'log', 'off'] as const,
              coerce: once('appraise'),
              describe: 'Predict for this ima_appraise mode instead of the kernel command line one',
            })
            .option('kernel-root', {
              type: 'string',
              coerce: once('kernel-root'),
              describe: 'Read proc/, sys/ and etc/ under this folder instead of / (keyctl is then not used)',
            })
            .option('suffix', {
              type: 'string',
              default: DEFAULT_SUFFIX,
              coerce: once('suffix'),
              describe: 'Sidecar file suffix',
            }),
        ),
      ),
    ) as unknown as Argv<DoctorArgs>,
  handler: async (a) => {
    const { runDoctor } = await import('../doctor-output.js');
    await runDoctor(a);
  },
};
