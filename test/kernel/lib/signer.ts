// The one place where the suite's preparation writes IMA values: through ima-sidecar's
// command line. (An evmctl stand-in exists only as an explicit debugging aid, to tell a
// fault of the harness from one of the tool; it is never chosen on its own and refused
// under CI.)
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { mustRun } from './exec.js';
import { repoRoot } from './initramfs.js';

export type HashAlgo = 'sha256' | 'sha512';

export interface SignOptions {
  keyPem: string;
  certPem: string;
  hashAlgo: HashAlgo;
  to: 'xattr' | 'sidecar' | 'both';
}

export interface SigningTool {
  label: string;
  /** ima-sidecar sign --key K --cert C --hash-algo A --to X PATH... */
  sign(o: SignOptions, paths: string[]): void;
  /** ima-sidecar hash --hash-algo A --to xattr PATH... (the 0x04 hash-only value) */
  hashOnly(hashAlgo: HashAlgo, paths: string[]): void;
  /** ima-sidecar import [-r] PATH... (PATH.sig into security.ima of PATH) */
  importSidecars(recursive: boolean, paths: string[]): void;
  /** ima-sidecar migrate -r SRC DEST */
  migrate(src: string, dest: string): void;
}

export function imaSidecarTool(): SigningTool {
  const root = repoRoot();
  const bin = join(root, 'bin', 'ima-sidecar');
  const main = join(root, 'dist', 'src', 'cli', 'main.js');
  const cli = (args: string[]): string => {
    if (!existsSync(bin) || !existsSync(main)) {
      throw new Error(
        `the ima-sidecar CLI is not there (${existsSync(bin) ? '' : `${bin} missing; `}` +
          `${existsSync(main) ? '' : `${main} missing, build with tsc`}); ` +
          'the kernel suite prepares every IMA value with it: ' +
          'sign --to xattr|sidecar|both, hash --to xattr, import [-r], migrate -r',
      );
    }
    return mustRun(bin, args);
  };
  return {
    label: 'ima-sidecar',
    sign: (o, paths) =>
      void cli(['sign', '--key', o.keyPem, '--cert', o.certPem, '--hash-algo', o.hashAlgo, '--to', o.to, ...paths]),
    hashOnly: (algo, paths) => void cli(['hash', '--hash-algo', algo, '--to', 'xattr', ...paths]),
    importSidecars: (recursive, paths) => void cli(['import', ...(recursive ? ['-r'] : []), ...paths]),
    migrate: (src, dest) => void cli(['migrate', '-r', src, dest]),
  };
}

/** evmctl doing the same steps; only with IMA_SIDECAR_KERNEL_PREP=evmctl, for debugging the harness. */
export function evmctlReferenceTool(): SigningTool {
  const files = (p: string): string[] =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .sort()
          .flatMap((n) => files(join(p, n)))
      : [p];
  const setFromSidecar = (sig: string, file: string) => mustRun('evmctl', ['ima_setxattr', '--sigfile', sig, file]);
  return {
    label: 'evmctl (debugging stand-in)',
    sign: (o, paths) => {
      for (const p of paths) {
        const mode = o.to === 'xattr' ? [] : o.to === 'both' ? ['--sigfile'] : ['-n', '--sigfile'];
        mustRun('evmctl', ['ima_sign', ...mode, '--key', o.keyPem, '-a', o.hashAlgo, p]);
      }
    },
    hashOnly: (algo, paths) => {
      for (const p of paths) mustRun('evmctl', ['ima_hash', '-a', algo, p]);
    },
    importSidecars: (recursive, paths) => {
      for (const p of paths) {
        const list = recursive ? files(p) : [p];
        for (const f of list) if (!f.endsWith('.sig') && existsSync(`${f}.sig`)) setFromSidecar(`${f}.sig`, f);
      }
    },
    migrate: (src, dest) => {
      for (const f of files(src)) {
        if (f.endsWith('.sig')) continue;
        const to = join(dest, relative(src, f));
        mkdirSync(join(to, '..'), { recursive: true });
        copyFileSync(f, to);
        if (existsSync(`${f}.sig`)) setFromSidecar(`${f}.sig`, to);
      }
    },
  };
}

export function chooseSigningTool(): SigningTool {
  const want = process.env.IMA_SIDECAR_KERNEL_PREP;
  if (!want || want === 'ima-sidecar') return imaSidecarTool();
  if (want === 'evmctl') {
    if (process.env.CI === 'true')
      throw new Error('IMA_SIDECAR_KERNEL_PREP=evmctl is a debugging aid and is refused under CI');
    return evmctlReferenceTool();
  }
  throw new Error(`IMA_SIDECAR_KERNEL_PREP=${want}: expected ima-sidecar (the default) or evmctl`);
}
