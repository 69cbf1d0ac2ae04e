#!/usr/bin/env node
/**
 * The least a Node process can do to import a tree's sidecars into the xattr,
 * as a yardstick for `import -r` (the companion of verify-floor.js): one
 * thread, every call synchronous, no checks at all (no format validation, no
 * symlink or race protection beyond O_NOFOLLOW, no read-back, no records),
 * one line per file. Not a tool: a floor, so that what no tuning of ours can
 * win against the shell's `setfattr --restore` is measured, not guessed.
 *
 *   node bench/import-floor.js DIR [ATTR]
 */
import { closeSync, constants, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setAttributeSync } from 'fs-xattr';

const [dir, attr = 'security.ima'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node bench/import-floor.js DIR [ATTR]\n');
  process.exit(2);
}
const fdDir = `/proc/${process.pid}/fd`;
let done = 0;

function walk(d) {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) {
      walk(p);
      continue;
    }
    if (!e.name.endsWith('.sig')) continue;
    const value = readFileSync(p);
    const target = p.slice(0, -4);
    const fd = openSync(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    setAttributeSync(`${fdDir}/${fd}`, attr, value);
    closeSync(fd);
    done++;
    writeSync(1, `${target}: imported\n`);
  }
}

walk(dir);
process.stderr.write(`${done} imported\n`);
