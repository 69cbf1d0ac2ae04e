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
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { setAttributeSync } from 'fs-xattr';
import { descriptorPath, forEachFile } from './floor.js';

const [dir, attr = 'security.ima'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node bench/import-floor.js DIR [ATTR]\n');
  process.exit(2);
}
let done = 0;

forEachFile(dir, (p, name) => {
  if (!name.endsWith('.sig')) return;
  const value = readFileSync(p);
  const target = p.slice(0, -4);
  const fd = openSync(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  setAttributeSync(descriptorPath(fd), attr, value);
  closeSync(fd);
  done++;
  writeSync(1, `${target}: imported\n`);
});

process.stderr.write(`${done} imported\n`);
