#!/usr/bin/env node
// Runs the compiled tests with node's own test runner. Groups: unit, cli, system, kernel.
// With no argument it runs them all, as `npm test` and .ci/run do.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const groups = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'cli', 'system', 'kernel'];
const files = [];
function collect(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
}
for (const g of groups) collect(join(root, 'dist', 'test', g));
if (files.length === 0) {
  console.error(`no test files for ${groups.join(', ')}; build first (tsc)`);
  process.exit(1);
}
// System tests mount filesystems: run files one at a time so mounts never race.
const concurrency = groups.some((g) => g === 'system' || g === 'kernel') ? '1' : String(2);
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
