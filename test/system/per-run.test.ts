// What a run learns of the filesystems it meets (their names, whether they take xattrs) belongs to that
// run: one device number can name another filesystem later in the same process. Here one loop device holds
// ext4, then, reformatted, xfs; two library runs in one process must each see what is mounted then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importFile, resolveSigner, signFile, hashAlgoByName } from '../../src/index.js';
import { fixture } from '../helpers/cli.js';
import { missing, skipOrFail } from '../helpers/skip.js';

const where = { xattrName: 'user.ima', suffix: '.sig' };

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout.trim();
}

test('two runs in one process: the same device, reformatted from ext4 to xfs, is named as it is now', async (t) => {
  const why = missing({ root: true, commands: ['losetup', 'mkfs.ext4', 'mkfs.xfs', 'mount', 'umount'] });
  if (why) return skipOrFail(t, why);
  const base = mkdtempSync(join(tmpdir(), 'ima-sidecar-per-run-'));
  const image = join(base, 'image');
  const mnt = join(base, 'mnt');
  sh('mkdir', [mnt]);
  sh('truncate', ['-s', '320M', image]);
  const loop = sh('losetup', ['--find', '--show', image]);
  let mounted = false;
  t.after(() => {
    if (mounted) spawnSync('umount', [mnt]);
    spawnSync('losetup', ['-d', loop]);
    rmSync(base, { recursive: true, force: true });
  });
  const signer = await resolveSigner({ keyPath: fixture('keys/rsa2048.key.pem') }, () => {});
  const opts = { key: signer.key, keyid: signer.keyid, hashAlgo: hashAlgoByName('sha256')!, ...where };

  const runOn = async (mkfs: string[]): Promise<{ filesystem: string | undefined; dev: number }> => {
    sh(mkfs[0]!, [...mkfs.slice(1), loop]);
    sh('mount', [loop, mnt]);
    mounted = true;
    try {
      const f = join(mnt, 'vmlinuz');
      writeFileSync(f, 'a kernel');
      assert.equal((await signFile(f, opts)).status, 'signed');
      const r = await importFile(f, where);
      assert.equal(r.status, 'imported', r.reason);
      return { filesystem: r.details?.filesystem, dev: statSync(f).dev };
    } finally {
      sh('umount', [mnt]);
      mounted = false;
    }
  };
  const first = await runOn(['mkfs.ext4', '-q', '-F']);
  const second = await runOn(['mkfs.xfs', '-q', '-f']);
  assert.equal(first.dev, second.dev, 'the same device number both times (else this shows nothing)');
  assert.deepEqual([first.filesystem, second.filesystem], ['ext4', 'xfs']);
});
