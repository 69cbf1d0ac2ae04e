import type { Argv, CommandModule } from 'yargs';
import { checkSuffix, GlobalArgs, globalOptions, once, ownOptionsFirst, repeatable, warner } from '../common.js';
import { printable, writeErr, writeOut } from '../output.js';
import {
  ConfigError,
  DEFAULT_SUFFIX,
  DEFAULT_XATTR,
  KexecRefused,
  PolicyError,
  gatherKernelView,
  gatherKeyrings,
  kexecLoad,
  loadCertificates,
} from '../../index.js';
import type { KernelView, KeyringView, StagedFile } from '../../index.js';

interface Args extends GlobalArgs {
  kernel?: string;
  initrd?: string;
  append?: string;
  'reuse-cmdline'?: boolean;
  cert?: string[];
  'stage-dir'?: string;
  policy?: string;
  'dry-run'?: boolean;
  suffix: string;
}

/**
 * The kernel as doctor reads it (with --policy, or /etc/ima/ima-policy where the kernel cannot show its policy):
 * whether an image without a signature can pass. Undefined, with a warning, when the policy cannot be known;
 * a --policy that cannot be read or parsed is an error (exit 2).
 */
function kernelView(policyFile: string | undefined, warn: (text: string) => void): KernelView | undefined {
  try {
    return gatherKernelView(policyFile === undefined ? {} : { policyFile });
  } catch (e) {
    if (!(e instanceof ConfigError || e instanceof PolicyError)) throw e;
    if (policyFile !== undefined)
      throw e instanceof PolicyError ? new ConfigError(`${e.message} (the kernel refuses the whole policy)`) : e;
    warn(`the IMA policy in force is unknown (${e.message}): an image without a signature is refused`);
    return undefined;
  }
}

/**
 * The keyids the kernel can verify a kexec image with: the IMA keyring's, and the .platform keyring's
 * (KEXEC_KERNEL_CHECK falls back to it), as doctor reads them; undefined when there is no IMA keyring to ask.
 */
function imaKeyids(view: { keyring: KeyringView; platformKeyring: KeyringView }): ReadonlySet<string> | undefined {
  if (view.keyring.state !== 'present') return undefined;
  const keys = [...view.keyring.keys, ...view.platformKeyring.keys];
  return new Set(keys.flatMap((k) => (k.keyid ? [k.keyid] : [])));
}

function describe(f: StagedFile): string {
  const v = f.value;
  const value = !v ? 'no signature' : v.kind === 'signature' ? `${v.algo.name} signature, keyid ${v.keyid}` : 'digest';
  const unsigned = f.unsigned ? `; passes without one: ${f.unsigned}` : '';
  return `${printable(f.source)}: staged (${value}, from ${f.carrier === 'none' ? 'nowhere' : f.carrier}${unsigned})`;
}

export const kexecCommand: CommandModule<GlobalArgs, Args> = {
  command: 'kexec <kernel>',
  describe: 'Load a kernel kept on FAT (or anywhere) with kexec_file_load, its signature staged into security.ima',
  builder: (y: Argv<GlobalArgs>) =>
    globalOptions(
      ownOptionsFirst(
        y
          .usage(
            '$0 kexec [options] KERNEL\n\nStages KERNEL (and --initrd) with their signatures on a tmpfs, checks ' +
              'them, and loads them with `kexec -s -l`. Booting the loaded kernel stays yours: `kexec -e` or ' +
              '`systemctl kexec`.',
          )
          .positional('kernel', { type: 'string', describe: 'The kernel image' })
          .option('initrd', {
            type: 'string',
            coerce: once('initrd'),
            describe: 'The initramfs to load with it (signed like the kernel)',
          })
          .option('append', { type: 'string', coerce: once('append'), describe: "The new kernel's command line" })
          .option('reuse-cmdline', {
            type: 'boolean',
            describe: "Give the new kernel the running kernel's command line",
          })
          .option('cert', {
            alias: 'c',
            ...repeatable,
            describe: 'Certificates the signatures must verify against (default /etc/keys/x509_ima.der, x509_evm.der)',
          })
          .option('stage-dir', {
            type: 'string',
            coerce: once('stage-dir'),
            describe: 'Stage in a fresh folder inside DIR (default: a tmpfs: /run, or one mounted for the run)',
          })
          .option('policy', {
            type: 'string',
            coerce: once('policy'),
            describe:
              'The IMA policy in force, when the kernel cannot show it (default /etc/ima/ima-policy, as doctor): ' +
              'an image without a signature is loaded only where it does not appraise kexec',
          })
          .option('suffix', {
            type: 'string',
            default: DEFAULT_SUFFIX,
            coerce: once('suffix'),
            describe: 'Sidecar file suffix',
          })
          .option('dry-run', {
            alias: 'n',
            type: 'boolean',
            describe: 'Stage and check, then clean up without loading',
          })
          .conflicts('append', 'reuse-cmdline'),
      ),
    ) as unknown as Argv<Args>,
  handler: async (a) => {
    const kernel = String(a.kernel);
    if (a['stage-dir'] === '') throw new ConfigError('--stage-dir needs a folder');
    const suffix = checkSuffix(a.suffix);
    const certs = await loadCertificates(a.cert, warner(a), { allowNone: true });
    if (certs.length === 0) warner(a)('no certificate: the signatures are checked by the kernel only');
    if (a.policy === '') throw new ConfigError('--policy needs a file');
    const view = kernelView(a.policy, warner(a));
    const keyringKeyids = imaKeyids(view ?? gatherKeyrings());
    const controller = new AbortController();
    let signal: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals): void => {
      signal ??= sig;
      controller.abort();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    try {
      const r = await kexecLoad(kernel, {
        initrd: a.initrd,
        append: a.append,
        reuseCmdline: a['reuse-cmdline'],
        certs,
        keyringKeyids,
        ...(view ? { view } : {}),
        stageDir: a['stage-dir'],
        dryRun: a['dry-run'],
        // The kernel appraises security.ima: that is where the staged copy carries its signature.
        xattrName: DEFAULT_XATTR,
        suffix,
        signal: controller.signal,
        onStep: (text) => a.verbose && writeErr(`ima-sidecar: ${text}\n`),
      });
      if (!a.quiet) {
        writeOut(`${describe(r.kernel)}\n`);
        if (r.initrd) writeOut(`${describe(r.initrd)}\n`);
        writeOut(
          r.loaded
            ? `loaded: ${r.command.join(' ')}; boot it with kexec -e or systemctl kexec\n`
            : `not loaded (--dry-run): ${r.command.join(' ')}\n`,
        );
      }
      process.exitCode = 0;
    } catch (e) {
      if (!(e instanceof KexecRefused)) throw e;
      writeErr(`${printable(e.message)}\n`);
      process.exitCode = 1;
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }
    if (signal) process.exitCode = signal === 'SIGINT' ? 130 : 143;
  },
};
