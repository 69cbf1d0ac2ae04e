#!/usr/bin/env node
/**
 * Does fs-xattr leak memory on every call (LinusU/fs-xattr#47)?
 *
 * Runs N calls (default 100,000) of each of fs-xattr's getAttribute,
 * setAttribute (asynchronous, promise-returning) and getAttributeSync,
 * setAttributeSync on one file, each mode in a fresh Node process, and
 * prints the resident set size before and after (after a full GC), the
 * growth and the growth per call. A call that frees what it allocates
 * grows by about nothing; a leaking one grows linearly with N.
 *
 *   node bench/xattr-leak.js [--calls N] [--dir DIR]
 *
 * Uses security.ima as root, user.ima otherwise, on a file in DIR (default
 * the system temporary folder; it must take that xattr: ext4, xfs, btrfs...).
 * Exit status 0 whatever the verdict; 2 when the xattr cannot be written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODES = ['getAttributeSync', 'setAttributeSync', 'getAttribute', 'setAttribute'];
// A real v2 RSA-2048 signature value is 265 bytes.
const VALUE = Buffer.concat([Buffer.from('030204308baedd0100', 'hex'), Buffer.alloc(256, 0x5a)]);

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

function rssMiB() {
  return process.memoryUsage.rss() / (1 << 20);
}

/** One mode, in this (child) process: warm up, GC, measure, N calls, GC, measure. */
async function child(mode, file, attr, calls) {
  const xattr = await import('fs-xattr');
  const call = xattr[mode];
  const isSet = mode.startsWith('set');
  const once = isSet ? () => call(file, attr, VALUE) : () => call(file, attr);
  xattr.setAttributeSync(file, attr, VALUE);
  const run = async (n) => {
    if (mode.endsWith('Sync')) {
      for (let i = 0; i < n; i++) once();
      return;
    }
    // Up to 16 in flight, as the tree runner would keep.
    const inFlight = new Set();
    for (let i = 0; i < n; i++) {
      const p = once().finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 16) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  };
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await run(2000);
  await settle();
  const before = rssMiB();
  const t = process.hrtime.bigint();
  await run(calls);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  await settle();
  const after = rssMiB();
  process.stdout.write(JSON.stringify({ mode, before, after, ms }) + '\n');
}

async function main() {
  if (process.argv[2] === '--child') {
    await child(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]));
    return;
  }
  const calls = Number(arg('--calls', '100000'));
  const dir = mkdtempSync(join(arg('--dir', tmpdir()), 'xattr-leak-'));
  const attr = process.getuid?.() === 0 ? 'security.ima' : 'user.ima';
  const file = join(dir, 'file');
  writeFileSync(file, 'content\n');
  try {
    const { setAttributeSync } = await import('fs-xattr');
    try {
      setAttributeSync(file, attr, VALUE);
    } catch (e) {
      process.stderr.write(`xattr-leak: cannot write ${attr} on ${dir}: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    const self = fileURLToPath(import.meta.url);
    console.log(
      `fs-xattr: ${calls} calls per mode on ${file} (${attr}, ${VALUE.length}-byte value), Node ${process.version}`,
    );
    console.log('mode               RSS before  RSS after   growth     per call   time');
    const rows = [];
    for (const mode of MODES) {
      const r = spawnSync(process.execPath, ['--expose-gc', self, '--child', mode, file, attr, String(calls)], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
      const m = JSON.parse(r.stdout.trim());
      const growth = m.after - m.before;
      rows.push({ ...m, growth });
      console.log(
        `${mode.padEnd(18)} ${m.before.toFixed(1).padStart(7)} MiB ${m.after.toFixed(1).padStart(7)} MiB ` +
          `${growth.toFixed(1).padStart(7)} MiB ${((growth * (1 << 20)) / calls).toFixed(0).padStart(6)} B ` +
          `${(m.ms / 1000).toFixed(2).padStart(6)} s`,
      );
    }
    const leaks = rows.filter((r) => (r.growth * (1 << 20)) / calls > 64).map((r) => r.mode);
    console.log(
      leaks.length
        ? `leaking (over 64 bytes per call kept after GC): ${leaks.join(', ')}`
        : 'no mode keeps over 64 bytes per call after GC',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
