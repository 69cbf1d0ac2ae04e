/**
 * What bench/verify-floor.js and bench/import-floor.js share: the plainest
 * walk (recursive readdir, no checks, no order) and a descriptor's path.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Calls fn(path, name) for every non-directory below dir. */
export function forEachFile(dir, fn) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) forEachFile(p, fn);
    else fn(p, e.name);
  }
}

const fdDir = `/proc/${process.pid}/fd`;

/** The path fs-xattr is given for an open descriptor (as src/carriers/fs-path.ts does). */
export function descriptorPath(fd) {
  return `${fdDir}/${fd}`;
}
