// Builds the guest's initramfs: busybox as /init's shell, the kernel modules, keyctl and
// kexec with their shared libraries, and the plan (keys, policy, mounts, checks) that
// guest/init.sh carries out.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Cpio } from './cpio.js';
import { mustRun } from './exec.js';
import type { Toolchain } from './toolchain.js';

export interface Mount {
  device: string;
  fstype: string;
  dir: string;
  options: string;
}

export interface Check {
  op: 'read' | 'kexec';
  name: string;
  path: string;
  /** kexec only: the initrd to load with the kernel (its KEXEC_INITRAMFS_CHECK). */
  initrd?: string;
}

export interface GuestPlan {
  /** Certificates (DER) for the _ima keyring, by name. */
  keys: { name: string; der: Buffer }[];
  policy: string[];
  mounts: Mount[];
  checks: Check[];
  /** Checks to run before the keys are loaded and the policy written (all must be allowed). */
  checksWithoutPolicy: Check[];
}

/** The repository root, found from this compiled file (dist/test/kernel/lib) or its source. */
export function repoRoot(): string {
  let d = dirname(new URL(import.meta.url).pathname);
  while (d !== '/' && !existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
}

export function guestScript(name: string): string {
  return join(repoRoot(), 'test', 'kernel', 'guest', name);
}

/**
 * The shared libraries a dynamic executable needs, as [path inside the guest, host file].
 * Uses ldd with the unpacked packages' library folders searched first.
 */
export function sharedLibraries(exe: string, libDirs: string[]): [string, string][] {
  const out = mustRun('ldd', [exe], { env: { ...process.env, LD_LIBRARY_PATH: libDirs.join(':') } });
  const libs: [string, string][] = [];
  for (const line of out.split('\n')) {
    const arrow = /^\s*(\S+)\s+=>\s+(\S+)/.exec(line);
    if (arrow) {
      if (arrow[2] === 'not') throw new Error(`${exe} needs ${arrow[1]}, which was not found (ldd)`);
      libs.push([`/lib/x86_64-linux-gnu/${arrow[1]}`, arrow[2]]);
      continue;
    }
    const interp = /^\s*(\/\S+)\s+\(/.exec(line);
    if (interp) libs.push([interp[1], interp[1]]);
  }
  return libs;
}

/** Another guest script than init.sh as /init, and more files (path inside the guest, content). */
export interface InitramfsExtras {
  init?: string;
  files?: [string, Buffer | string][];
}

export function buildInitramfs(tools: Toolchain, plan: GuestPlan, outFile: string, extras: InitramfsExtras = {}): void {
  const c = new Cpio();
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'mnt', 'bin', 'sbin', 'usr/bin', 'usr/sbin', 'root']) c.dir(d);
  c.file('init', readFileSync(guestScript(extras.init ?? 'init.sh')), 0o755);
  // The shell functions every guest script sources.
  c.file('lib/ima-test/common.sh', readFileSync(guestScript('common.sh')));
  for (const [at, data] of extras.files ?? []) c.file(at, data);
  c.file('bin/busybox', readFileSync(tools.busybox), 0o755);

  const guestLibDirs = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu'].map((d) => join(tools.guestRoot, d));
  for (const [exe, at] of [
    [tools.kexec, 'usr/sbin/kexec'],
    [tools.keyctl, 'usr/bin/keyctl'],
  ] as const) {
    c.file(at, readFileSync(exe), 0o755);
    for (const [guestPath, hostFile] of sharedLibraries(exe, guestLibDirs)) {
      if (!c.has(guestPath)) c.file(guestPath, readFileSync(hostFile), 0o755);
    }
  }

  for (const m of tools.kernel.moduleOrder)
    c.file(`lib/modules/${m}.ko`, readFileSync(join(tools.kernel.modulesDir, `${m}.ko`)));
  const t = 'etc/ima-test';
  c.file(`${t}/modules`, tools.kernel.moduleOrder.join('\n') + '\n');
  c.file(`${t}/mounts`, plan.mounts.map((m) => `${m.device} ${m.fstype} ${m.dir} ${m.options}`).join('\n') + '\n');
  c.dir(`${t}/keys`);
  for (const k of plan.keys) c.file(`${t}/keys/${basename(k.name)}.der`, k.der);
  c.file(`${t}/policy`, plan.policy.length ? plan.policy.join('\n') + '\n' : '');
  const list = (checks: Check[]): string => {
    for (const ch of checks) {
      if (/\s/.test(ch.name) || /\s/.test(ch.path) || /\s/.test(ch.initrd ?? ''))
        throw new Error(`check names and paths must not contain spaces: ${ch.name} ${ch.path}`);
    }
    return checks.map((ch) => `${ch.op} ${ch.name} ${ch.path}${ch.initrd ? ` ${ch.initrd}` : ''}\n`).join('');
  };
  c.file(`${t}/checks`, list(plan.checks));
  c.file(`${t}/checks.nopolicy`, list(plan.checksWithoutPolicy));
  writeFileSync(outFile, c.toBuffer());
}
