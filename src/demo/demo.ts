/**
 * `npm start`: the main job on built-in data in a temporary folder, printed
 * as the commands a person would type and what they answered.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeThrowawayIdentity } from './throwaway-cert.js';

const bin = fileURLToPath(new URL('../../../bin/ima-sidecar', import.meta.url));
const isRoot = process.getuid?.() === 0;
const xattr = isRoot ? 'security.ima' : 'user.ima';

function say(text: string): void {
  process.stdout.write(`\n# ${text}\n`);
}

function run(cwd: string, args: string[]): number {
  process.stdout.write(`$ ima-sidecar ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  const out = (r.stdout + r.stderr).trimEnd();
  if (out) process.stdout.write(out.replace(/^/gm, '  ') + '\n');
  return r.status ?? 1;
}

/** Deterministic stand-ins for a kernel image and an initramfs. */
function builtInFile(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ima-sidecar-demo-'));
  try {
    process.stdout.write(
      `ima-sidecar demo in ${dir} (${isRoot ? 'root: using security.ima' : 'not root: using user.ima'})\n`,
    );
    say('A throwaway signing key and certificate (RSA-2048, subjectKeyIdentifier by hash)');
    const id = await makeThrowawayIdentity();
    writeFileSync(join(dir, 'signing-key.pem'), id.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'signing-cert.pem'), id.certPem);
    run(dir, ['keyid', 'signing-cert.pem']);

    say('A "boot partition" holding a kernel image and an initramfs');
    mkdirSync(join(dir, 'esp'));
    writeFileSync(join(dir, 'esp', 'vmlinuz'), builtInFile(512 * 1024, 1));
    writeFileSync(join(dir, 'esp', 'initrd.img'), builtInFile(256 * 1024, 2));

    say('Sign both into evmctl-format sidecars (vmlinuz.sig holds the exact security.ima bytes)');
    run(dir, ['sign', '--key', 'signing-key.pem', '--cert', 'signing-cert.pem', '-r', 'esp']);
    run(dir, ['inspect', 'esp/vmlinuz.sig']);

    say('Status: the signatures live only in sidecars so far');
    run(dir, ['status', '-r', 'esp', '--xattr', xattr]);

    say(`Migrate the FAT-like folder to an xattr-capable one: signatures move into ${xattr}`);
    run(dir, ['migrate', '-r', '--verify', '--cert', 'signing-cert.pem', '--xattr', xattr, 'esp', 'boot']);

    say('Import in place as well (sidecar -> xattr), then verify from the xattr alone');
    run(dir, ['import', '-r', '--xattr', xattr, 'esp']);
    run(dir, ['verify', '-r', '--from', 'xattr', '--cert', 'signing-cert.pem', '--xattr', xattr, 'boot']);
    run(dir, ['status', '-r', '--cert', 'signing-cert.pem', '--xattr', xattr, 'boot', 'esp']);

    say('Tamper with the migrated kernel: verification names the reason');
    const tampered = join(dir, 'boot', 'vmlinuz');
    const bytes = readFileSync(tampered);
    bytes[1000] ^= 0xff;
    writeFileSync(tampered, bytes);
    run(dir, ['verify', '--cert', 'signing-cert.pem', '--xattr', xattr, 'boot/vmlinuz']);

    say('Export xattrs back to sidecars in a staging tree (what goes onto a FAT ESP)');
    run(dir, ['export', '-r', '--xattr', xattr, '--dest', 'staging', 'boot']);
    say('The other carrier for filesystems without xattrs: an appended signature, as sign-file makes it');
    copyFileSync(join(dir, 'esp', 'vmlinuz'), join(dir, 'vmlinuz.modsig'));
    run(dir, ['modsig', 'sign', '--key', 'signing-key.pem', '--cert', 'signing-cert.pem', 'vmlinuz.modsig']);
    run(dir, ['status', '--cert', 'signing-cert.pem', 'vmlinuz.modsig']);
    say('...which converts losslessly into a sidecar for the payload (the same signature bytes)');
    run(dir, ['modsig', 'detach', '--cert', 'signing-cert.pem', 'vmlinuz.modsig']);
    run(dir, ['verify', '--cert', 'signing-cert.pem', 'vmlinuz.modsig']);
    process.stdout.write('\nDone. Everything above happened in a temporary folder, now removed.\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
