// A writer for the "newc" cpio format, the one the kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). Uncompressed.
import { posix } from 'node:path';

type Entry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Buffer }
  | { kind: 'symlink'; path: string; target: string };

export class Cpio {
  private readonly entries = new Map<string, Entry>();

  dir(path: string, mode = 0o755): this {
    const p = clean(path);
    if (p === '') return this;
    const existing = this.entries.get(p);
    if (existing && existing.kind !== 'dir') throw new Error(`cpio: ${p} is already a ${existing.kind}`);
    this.parents(p);
    if (!existing) this.entries.set(p, { kind: 'dir', path: p, mode });
    return this;
  }

  file(path: string, data: Buffer | string, mode = 0o644): this {
    const p = clean(path);
    this.parents(p);
    this.entries.set(p, { kind: 'file', path: p, mode, data: typeof data === 'string' ? Buffer.from(data) : data });
    return this;
  }

  symlink(path: string, target: string): this {
    const p = clean(path);
    this.parents(p);
    this.entries.set(p, { kind: 'symlink', path: p, target });
    return this;
  }

  has(path: string): boolean {
    return this.entries.has(clean(path));
  }

  toBuffer(): Buffer {
    const parts: Buffer[] = [];
    let ino = 1;
    // Parents were inserted before their children, and Map keeps insertion order.
    for (const e of this.entries.values()) {
      const mode = e.kind === 'dir' ? 0o040000 | e.mode : e.kind === 'file' ? 0o100000 | e.mode : 0o120777;
      const data = e.kind === 'file' ? e.data : e.kind === 'symlink' ? Buffer.from(e.target) : Buffer.alloc(0);
      parts.push(record(e.path, ino++, mode, e.kind === 'dir' ? 2 : 1, data));
    }
    parts.push(record('TRAILER!!!', 0, 0, 1, Buffer.alloc(0)));
    const out = Buffer.concat(parts);
    // Pad to a 512-byte boundary like cpio(1) does; the kernel does not need it.
    const pad = (512 - (out.length % 512)) % 512;
    return pad ? Buffer.concat([out, Buffer.alloc(pad)]) : out;
  }

  private parents(p: string): void {
    const parent = posix.dirname(p);
    if (parent !== '.' && parent !== '/' && parent !== '' && !this.entries.has(parent)) this.dir(parent);
  }
}

function clean(path: string): string {
  return posix.normalize(path).replace(/^\/+/, '').replace(/\/+$/, '');
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function record(name: string, ino: number, mode: number, nlink: number, data: Buffer): Buffer {
  const nameBytes = Buffer.from(name + '\0');
  const header =
    '070701' +
    hex8(ino) +
    hex8(mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(nlink) +
    hex8(0) + // mtime
    hex8(data.length) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(0) + // rdevmajor
    hex8(0) + // rdevminor
    hex8(nameBytes.length) +
    hex8(0); // check
  const head = Buffer.concat([Buffer.from(header, 'latin1'), nameBytes]);
  return Buffer.concat([head, Buffer.alloc(pad4(head.length)), data, Buffer.alloc(pad4(data.length))]);
}
