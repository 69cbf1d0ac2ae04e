// Every writer works on FAT (FAT32 through fusefat, whose chmod and chown answer ENOSYS): sign, hash --to
// sidecar, export, migrate, and modsig sign/strip/attach/detach in place and with --output, each checked by
// reading the result back (verify, modsig verify). A full FAT names the step that failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, runCli, show } from '../helpers/cli.js';
import { useMount } from '../helpers/mounts.js';
import { FAT_TIMEOUT } from '../helpers/system.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const SIGN = ['--key', KEY, '--cert', CERT];

async function ok(args: string[]): Promise<void> {
  const r = await runCli(args, { timeoutMs: 120_000 });
  assert.equal(r.status, 0, `ima-sidecar ${args.join(' ')}\n${show(r)}`);
}

test('FAT through fusefat: every writer writes, and what it wrote reads back', FAT_TIMEOUT, async (t) => {
  const fat = await useMount(t, 'fat');
  const ext4 = await useMount(t, 'ext4');
  if (!fat || !ext4) return;
  const f = (name: string) => join(fat.dir, name);
  for (const name of ['a.bin', 'b.bin', 'c.bin']) writeFileSync(f(name), randomBytes(30_000));

  await ok(['sign', ...SIGN, f('a.bin')]);
  await ok(['verify', '--cert', CERT, f('a.bin')]);
  await ok(['hash', '--to', 'sidecar', f('b.bin')]);
  await ok(['verify', '--from', 'sidecar', f('b.bin')]);

  await ok(['modsig', 'sign', ...SIGN, '--output', f('c.signed'), f('c.bin')]);
  await ok(['modsig', 'verify', '--cert', CERT, f('c.signed')]);
  await ok(['modsig', 'sign', ...SIGN, f('c.bin')]);
  await ok(['modsig', 'verify', '--cert', CERT, f('c.bin')]);
  await ok(['modsig', 'strip', '--output', f('c.payload'), f('c.bin')]);
  await ok(['modsig', 'detach', '--cert', CERT, f('c.bin')]);
  await ok(['verify', '--cert', CERT, f('c.bin')]);
  await ok(['modsig', 'attach', '--cert', CERT, f('c.bin')]);
  await ok(['modsig', 'verify', '--cert', CERT, f('c.bin')]);
  await ok(['modsig', 'strip', f('c.bin')]);

  // Signed in the xattr on ext4, then exported and migrated onto FAT.
  const src = join(ext4.dir, 'src');
  writeFileSync(src, randomBytes(20_000));
  await ok(['sign', ...SIGN, '--to', 'xattr', src]);
  await ok(['export', '--dest', fat.dir, src]);
  const exported = await runCli(['inspect', '--json', f('src.sig')]);
  assert.equal(exported.status, 0, show(exported));
  assert.match(exported.stdout, /"keyid"/, 'the exported sidecar decodes as a signature');
  await ok(['migrate', src, f('migrated')]);
  await ok(['verify', '--cert', CERT, f('migrated')]);
  assert.deepEqual(
    readdirSync(fat.dir).filter((n) => n.startsWith('.')),
    [],
    'no temporaries or .fuse_hidden files left',
  );
});

test('a full FAT: each failure names the step that failed and the errno', FAT_TIMEOUT, async (t) => {
  const fat = await useMount(t, 'fat', { sizeMiB: 40 });
  if (!fat) return;
  const big = join(fat.dir, 'big.bin');
  writeFileSync(big, randomBytes(1_000_000));
  // Fill the rest of the filesystem.
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(fat.dir, `fill${i}`), Buffer.alloc(4 << 20));
    } catch {
      break;
    }
  }
  const r = await runCli(['modsig', 'sign', ...SIGN, '--output', join(fat.dir, 'big.signed'), big]);
  assert.equal(r.status, 1, show(r));
  // fusefat answers a write to a full FAT with EPERM, not ENOSPC: the step named is what tells.
  const step = '(create|write|flush|rename)';
  const errno = '(no space left on device \\(ENOSPC\\)|operation not permitted \\(EPERM\\))';
  const full = new RegExp(`big\\.bin: failed: cannot write file \\(${step}\\): ${errno}$`, 'm');
  assert.match(r.stderr, full, show(r));
  assert.deepEqual(
    readdirSync(fat.dir).filter((n) => n.startsWith('.') || n === 'big.signed'),
    [],
    'nothing half-written left',
  );
});
