// Kernel modules the guest needs, and the order to insmod them in.
//
// Debian's kernel package ships no modules.dep (depmod runs at install time), so the
// dependencies are read from each module's own `.modinfo` section (`depends=a,b`), the
// same field modinfo(8) prints.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the guest must be able to do, as module names; their dependencies are added.
 * - virtio_pci, virtio_blk: the test disks (-drive if=virtio)
 * - ext4 (+ jbd2, mbcache, crc16 via depends=), crc32c_generic: ext4/jbd2 metadata
 *   checksums ask the crypto API for "crc32c" and there is no modprobe in the guest
 * - sha512_generic: files signed with sha512 (the IMA hash and the RSA padding)
 * - fat, vfat, nls_cp437, nls_ascii: the FAT image (Debian's FAT default codepage is 437
 *   and its default iocharset "ascii")
 */
export const MODULE_ROOTS: readonly string[] = [
  'virtio_pci',
  'virtio_blk',
  'crc32c_generic',
  'ext4',
  'sha512_generic',
  'fat',
  'vfat',
  'nls_cp437',
  'nls_ascii',
];

export function normalizeModuleName(name: string): string {
  return name.replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_');
}

/** Every `.ko` under DIR, by normalized module name. */
export function indexModules(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ko')) out.set(normalizeModuleName(name), p);
    }
  };
  walk(dir);
  return out;
}

/** Module names listed in modules.builtin (those are in the kernel image itself). */
export function builtinModules(modulesDir: string): Set<string> {
  const f = join(modulesDir, 'modules.builtin');
  const out = new Set<string>();
  if (!existsSync(f)) return out;
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    const base = line.trim().split('/').pop();
    if (base) out.add(normalizeModuleName(base));
  }
  return out;
}

/** The `depends=` field of a module's .modinfo section. */
export function moduleDepends(koFile: string): string[] {
  const buf = readFileSync(koFile);
  const key = Buffer.from('depends=');
  let at = buf.indexOf(key);
  while (at > 0 && buf[at - 1] !== 0) at = buf.indexOf(key, at + 1);
  if (at < 0) return [];
  const start = at + key.length;
  const end = buf.indexOf(0, start);
  const value = buf.subarray(start, end < 0 ? buf.length : end).toString('latin1');
  return value
    .split(',')
    .map((s) => normalizeModuleName(s.trim()))
    .filter((s) => s.length > 0);
}

/** Dependencies first, each module once; built-in modules are left out. */
export function moduleLoadOrder(index: Map<string, string>, builtin: Set<string>, roots: readonly string[]): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]): void => {
    const n = normalizeModuleName(name);
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') throw new Error(`module dependency cycle: ${[...chain, n].join(' -> ')}`);
    const file = index.get(n);
    if (!file) {
      if (builtin.has(n)) {
        state.set(n, 'done');
        return;
      }
      throw new Error(
        `kernel module ${n} is neither a .ko file nor built in (needed by ${chain.join(' -> ') || 'the suite'})`,
      );
    }
    state.set(n, 'visiting');
    for (const d of moduleDepends(file)) visit(d, [...chain, n]);
    state.set(n, 'done');
    order.push(n);
  };
  for (const r of roots) visit(r, []);
  return order;
}
