// The boot integration hooks in contrib/, run the way the system runs them: systemd's kernel-install
// (252 in bookworm) with 90-loaderentry.install and our 91-ima-sidecar.install, its BOOT_ROOT on FAT32
// through fusefat, and the Debian kernel hooks through run-parts with a scratch root whose /boot (or
// /boot/firmware) is that FAT mount. What they write is read back with `ima-sidecar verify --cert`.
//
// fusefat implements no chmod (ENOSYS), so 90-loaderentry.install's `install -m 0644` fails there, where
// a kernel vfat mount (which this machine's kernel lacks) takes it. The FAT cases therefore put a
// stand-in `install` first on PATH that copies without the chmod; everything else is the real thing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BIN, fixture, ROOT, run, runCli, show, tempDir, type RunResult } from '../helpers/cli.js';
import { useMount } from '../helpers/mounts.js';
import { missing, skipOrFail } from '../helpers/skip.js';
import { content } from '../helpers/trees.js';
import { FAT_TIMEOUT, records, xattrOf } from '../helpers/system.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const OTHER_KEY = fixture('keys/other-rsa2048.key.pem');
const OTHER_CERT = fixture('keys/other-rsa2048.crt.pem');
const PLUGIN = join(ROOT, 'contrib', 'kernel-install', '91-ima-sidecar.install');
const POSTINST_D = join(ROOT, 'contrib', 'debian', 'postinst.d');
const POSTRM_D = join(ROOT, 'contrib', 'debian', 'postrm.d');
const LOADERENTRY = '/usr/lib/kernel/install.d/90-loaderentry.install';
const KVER = '6.1.0-99-amd64';
const MACHINE_ID = '0123456789abcdef0123456789abcdef';
const TIMEOUT_MS = 120_000;

/** Skips (fails under CI) without root, kernel-install and its 90-loaderentry.install, run-parts or getfattr. */
function hooksMissing(t: TestContext): boolean {
  let why = missing({ root: true, commands: ['kernel-install', 'run-parts', 'getfattr'] });
  if (!why && !existsSync(LOADERENTRY)) why = `needs ${LOADERENTRY} (Debian's systemd package)`;
  if (why) skipOrFail(t, why);
  return why !== undefined;
}

async function cli(args: string[], status = 0): Promise<RunResult> {
  const r = await runCli(args, { timeoutMs: TIMEOUT_MS });
  assert.equal(r.status, status, `ima-sidecar ${args.join(' ')}\n${show(r)}`);
  return r;
}

async function sign(file: string, to: 'sidecar' | 'xattr', key = KEY, cert = CERT): Promise<void> {
  await cli(['sign', '-q', '--key', key, '--cert', cert, '--to', to, file]);
}

/** `ima-sidecar verify --cert` on each file: every one ok, from the carrier expected. */
async function verifies(files: string[], cert: string, from: 'sidecar' | 'xattr'): Promise<void> {
  const { list } = records(await cli(['verify', '--json', '--from', from, '--cert', cert, ...files]));
  assert.deepEqual(
    list.map((x) => [x.path, x.status]),
    files.map((f) => [f, 'ok']),
  );
}

/** A kernel-install configuration of its own: install.conf with layout=bls, and our key file if given. */
interface Setup {
  env: Record<string, string | undefined>;
  /** Writes /etc/ima-sidecar/kernel-install.conf's stand-in. */
  configure(text: string): Promise<void>;
}

async function setup(
  t: TestContext,
  bootRoot: string,
  opts: { fusefat: boolean; pluginsBefore?: string[] },
): Promise<Setup> {
  const dir = await tempDir(t, 'ima-sidecar-hooks-');
  const confRoot = join(dir, 'kernel');
  await mkdir(confRoot);
  await writeFile(join(confRoot, 'install.conf'), 'layout=bls\n');
  const conf = join(dir, 'ima-sidecar-kernel-install.conf');
  let path = process.env.PATH ?? '/usr/bin:/bin';
  if (opts.fusefat) {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(
      join(bin, 'install'),
      [
        '#!/bin/sh',
        '# Test stand-in: fusefat has no chmod, so do `install -m MODE SRC DEST` as a copy without one.',
        'set -eu',
        'if [ "$1" = -m ]; then shift 2; fi',
        'rm -f -- "$2"',
        'exec cp -- "$1" "$2"',
        '',
      ].join('\n'),
    );
    await chmod(join(bin, 'install'), 0o755);
    path = `${bin}:${path}`;
  }
  return {
    env: {
      PATH: path,
      IMA_SIDECAR: BIN,
      IMA_SIDECAR_CONF: conf,
      IMA_SIDECAR_ROOT: undefined,
      BOOT_ROOT: bootRoot,
      MACHINE_ID,
      KERNEL_INSTALL_CONF_ROOT: confRoot,
      KERNEL_INSTALL_PLUGINS: [...(opts.pluginsBefore ?? []), LOADERENTRY, PLUGIN].join(' '),
      KERNEL_INSTALL_BYPASS: undefined,
      KERNEL_INSTALL_VERBOSE: undefined,
    },
    configure: (text) => writeFile(conf, text),
  };
}

async function kernelInstall(s: Setup, args: string[], status = 0): Promise<RunResult> {
  const r = await run('kernel-install', args, { env: s.env, timeoutMs: TIMEOUT_MS });
  assert.equal(r.status, status, `kernel-install ${args.join(' ')}\n${show(r)}`);
  return r;
}

/** Our plugin's own lines in what kernel-install printed (90-loaderentry's chown complaints on FAT left out). */
function ours(r: RunResult): string[] {
  return (r.stdout + r.stderr).split('\n').filter((l) => l.startsWith('91-ima-sidecar: '));
}

/** A fake kernel and initrd in dir, different for each seed. */
async function kernelFiles(dir: string, seed: number): Promise<{ image: string; initrd: string }> {
  const image = join(dir, `vmlinuz-${KVER}`);
  const initrd = join(dir, `initrd.img-${KVER}`);
  await writeFile(image, content(seed, 300_000));
  await writeFile(initrd, content(seed + 1, 40_000));
  return { image, initrd };
}

const sorted = async (dir: string): Promise<string[]> => (await readdir(dir)).sort();

// -------------------------------------------------------------------------------------------------

test('the Debian postinst hook shares its signing code with the kernel-install plugin, unchanged', async () => {
  const shared = (text: string): string => {
    const from = text.indexOf('\n# --- shared with ');
    const to = text.indexOf('\n# --- end of the shared part ---');
    assert.ok(from > 0 && to > from, 'shared-part markers');
    return text.slice(text.indexOf('\n', from + 1), to);
  };
  const plugin = await readFile(PLUGIN, 'utf8');
  const postinst = await readFile(join(POSTINST_D, 'zz-ima-sidecar'), 'utf8');
  assert.equal(shared(postinst), shared(plugin));
});

test(
  'kernel-install onto FAT: sidecars from the source sidecars; a re-signed image; remove',
  FAT_TIMEOUT,
  async (t) => {
    if (hooksMissing(t)) return;
    const fat = await useMount(t, 'fat');
    if (!fat) return;
    const src = await tempDir(t);
    const { image, initrd } = await kernelFiles(src, 1);
    await sign(image, 'sidecar');
    await sign(initrd, 'sidecar');
    const s = await setup(t, fat.dir, { fusefat: true });
    const entry = join(fat.dir, MACHINE_ID, KVER);
    const linux = join(entry, 'linux');
    const initrdCopy = join(entry, basename(initrd));

    await t.test('add: linux.sig and the initrd sidecar are the sources, and verify', async () => {
      const r = await kernelInstall(s, ['add', KVER, image, initrd]);
      assert.deepEqual(ours(r), [], 'quiet without -v');
      assert.deepEqual(await sorted(entry), [basename(initrd), `${basename(initrd)}.sig`, 'linux', 'linux.sig']);
      assert.deepEqual(await readFile(`${linux}.sig`), await readFile(`${image}.sig`));
      assert.deepEqual(await readFile(`${initrdCopy}.sig`), await readFile(`${initrd}.sig`));
      assert.ok(existsSync(join(fat.dir, 'loader', 'entries', `${MACHINE_ID}-${KVER}.conf`)), '90-loaderentry ran');
      await verifies([linux, initrdCopy], CERT, 'sidecar');
      // And what kexec would load from the entry: staged, checked, nothing loaded.
      const k = await cli(['kexec', '--dry-run', '--cert', CERT, '--initrd', initrdCopy, linux]);
      assert.match(k.stdout, /linux: staged \(sha256 signature, keyid [0-9a-f]{8}, from sidecar\)/, k.stdout);
    });

    await t.test('add again after re-signing with another key (-v): the old sidecars are replaced', async () => {
      await sign(image, 'sidecar', OTHER_KEY, OTHER_CERT);
      await sign(initrd, 'sidecar', OTHER_KEY, OTHER_CERT);
      const r = await kernelInstall(s, ['-v', 'add', KVER, image, initrd]);
      assert.ok(
        ours(r).some((l) => l.includes(`${linux}: the signature of ${image}`)),
        show(r),
      );
      assert.match(r.stdout + r.stderr, /signed to .*linux \(signature into sidecar\)/);
      await verifies([linux, initrdCopy], OTHER_CERT, 'sidecar');
      await cli(['verify', '--cert', CERT, linux], 1);
    });

    await t.test('the plugin on its own, remove: only IMA sidecars beside copies go', async () => {
      await writeFile(join(entry, 'notes.txt.sig'), 'not a sidecar of anything\n');
      await writeFile(join(entry, 'notes.txt'), 'hello\n');
      await writeFile(join(entry, 'orphan.sig'), await readFile(`${image}.sig`));
      const r = await run(PLUGIN, ['remove', KVER, entry], { env: s.env });
      assert.equal(r.status, 0, show(r));
      assert.deepEqual(await sorted(entry), [basename(initrd), 'linux', 'notes.txt', 'notes.txt.sig', 'orphan.sig']);
      const again = await run(PLUGIN, ['remove', KVER, entry], { env: s.env });
      assert.equal(again.status, 0, show(again));
      assert.match(again.stderr, /no sidecars in .*: nothing to remove/);
    });

    await t.test('kernel-install remove: the entry is gone, sidecars and all', async () => {
      await kernelInstall(s, ['add', KVER, image, initrd]);
      assert.ok(existsSync(`${linux}.sig`));
      await kernelInstall(s, ['remove', KVER]);
      assert.ok(!existsSync(entry), 'entry directory removed');
      assert.ok(!existsSync(join(fat.dir, 'loader', 'entries', `${MACHINE_ID}-${KVER}.conf`)));
    });
  },
);

test('kernel-install onto FAT from security.ima on ext4', FAT_TIMEOUT, async (t) => {
  if (hooksMissing(t)) return;
  const fat = await useMount(t, 'fat');
  if (!fat) return;
  const ext = await useMount(t, 'ext4');
  if (!ext) return;
  const { image, initrd } = await kernelFiles(ext.dir, 3);
  await sign(image, 'xattr');
  await sign(initrd, 'xattr');
  assert.ok(!existsSync(`${image}.sig`) && !existsSync(`${initrd}.sig`), 'the signatures are in security.ima only');
  const s = await setup(t, fat.dir, { fusefat: true });
  await kernelInstall(s, ['add', KVER, image, initrd]);
  const entry = join(fat.dir, MACHINE_ID, KVER);
  const linux = join(entry, 'linux');
  const initrdCopy = join(entry, basename(initrd));
  assert.deepEqual(await readFile(`${linux}.sig`), await xattrOf(image));
  assert.deepEqual(await readFile(`${initrdCopy}.sig`), await xattrOf(initrd));
  await verifies([linux, initrdCopy], CERT, 'sidecar');
  await kernelInstall(s, ['remove', KVER]);
  assert.ok(!existsSync(entry));
});

test('kernel-install onto FAT with only a configured key, and an initrd a plugin staged', FAT_TIMEOUT, async (t) => {
  if (hooksMissing(t)) return;
  const fat = await useMount(t, 'fat');
  if (!fat) return;
  const src = await tempDir(t);
  const { image, initrd } = await kernelFiles(src, 5);
  // As an initrd generator's plugin does (dracut's 50-dracut.install): a file in the staging area,
  // which 90-loaderentry.install copies into the entry by its name.
  const stager = join(src, '50-stage-initrd.install');
  await writeFile(
    stager,
    '#!/bin/sh\nset -eu\n[ "$1" = add ] || exit 0\nprintf generated >"$KERNEL_INSTALL_STAGING_AREA/initrd"\n',
  );
  await chmod(stager, 0o755);
  const s = await setup(t, fat.dir, { fusefat: true, pluginsBefore: [stager] });
  await s.configure(`# the machine's own key\nkey=${KEY}\ncert="${CERT}"\n  hash_algo=sha384\n`);
  await kernelInstall(s, ['add', KVER, image, initrd]);
  const entry = join(fat.dir, MACHINE_ID, KVER);
  const copies = ['linux', basename(initrd), 'initrd'].map((n) => join(entry, n));
  assert.deepEqual(await readFile(copies[2]!, 'utf8'), 'generated');
  assert.ok(!existsSync(`${image}.sig`), 'the source is not touched');
  const { list } = records(await cli(['verify', '--json', '--cert', CERT, ...copies]));
  assert.deepEqual(
    list.map((x) => [x.path, x.status, x.hashAlgo]),
    copies.map((c) => [c, 'ok', 'sha384']),
  );
  await kernelInstall(s, ['remove', KVER]);
});

test('kernel-install with nothing to sign with, and a copy that is not the image', FAT_TIMEOUT, async (t) => {
  if (hooksMissing(t)) return;
  const fat = await useMount(t, 'fat');
  if (!fat) return;
  const src = await tempDir(t);
  const { image, initrd } = await kernelFiles(src, 7);
  const s = await setup(t, fat.dir, { fusefat: true });
  const entry = join(fat.dir, MACHINE_ID, KVER);

  await t.test('no signature and no key: exit 0, a message, no sidecar', async () => {
    const r = await kernelInstall(s, ['add', KVER, image, initrd]);
    const lines = ours(r);
    assert.equal(lines.length, 2, show(r));
    assert.match(lines[0]!, /nothing to do for .*linux: .* has no security\.ima and no .*\.sig, and no key= in /);
    assert.deepEqual(await sorted(entry), [basename(initrd), 'linux']);
  });

  await t.test('a copy that differs from its source: exit 1, no sidecar written for it', async () => {
    await sign(image, 'sidecar');
    // A new file: fusefat refuses a write over an existing one (EPERM).
    await rm(join(entry, 'linux'));
    await writeFile(join(entry, 'linux'), content(99, 300_000));
    const r = await run(PLUGIN, ['add', KVER, entry, image], { env: { ...s.env, KERNEL_INSTALL_LAYOUT: 'bls' } });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /different content/);
    assert.match(r.stderr, /could not give .*linux the signature of /);
    assert.ok(!existsSync(join(entry, 'linux.sig')));
  });

  await t.test('a relative key path in the configuration is refused', async () => {
    await s.configure('key=keys/privkey.pem\n');
    const r = await run(PLUGIN, ['add', KVER, entry, initrd], { env: { ...s.env, KERNEL_INSTALL_LAYOUT: 'bls' } });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /key= must be an absolute path/);
  });

  await t.test('another layout: nothing copied, nothing said', async () => {
    const r = await run(PLUGIN, ['add', KVER, entry, image], { env: { ...s.env, KERNEL_INSTALL_LAYOUT: 'other' } });
    assert.equal(r.status, 0, show(r));
    assert.equal(r.stderr, '');
  });
});

test('kernel-install onto ext4: security.ima on the copy; a signature already there is kept', async (t) => {
  if (hooksMissing(t)) return;
  const ext = await useMount(t, 'ext4');
  if (!ext) return;
  const boot = join(ext.dir, 'boot');
  await mkdir(boot);
  const src = await tempDir(t);
  const { image, initrd } = await kernelFiles(src, 9);
  await sign(image, 'sidecar');
  const s = await setup(t, boot, { fusefat: false });
  await s.configure(`key=${OTHER_KEY}\ncert=${OTHER_CERT}\n`);
  const entry = join(boot, MACHINE_ID, KVER);
  const linux = join(entry, 'linux');
  const initrdCopy = join(entry, basename(initrd));
  await kernelInstall(s, ['add', KVER, image, initrd]);
  assert.deepEqual(await xattrOf(linux), await readFile(`${image}.sig`), 'the source sidecar, into security.ima');
  assert.ok(!existsSync(`${linux}.sig`), 'no sidecar where security.ima can be had');
  await verifies([linux], CERT, 'xattr');
  await verifies([initrdCopy], OTHER_CERT, 'xattr');

  const before = await xattrOf(linux);
  await sign(image, 'sidecar', OTHER_KEY, OTHER_CERT);
  const r = await run(PLUGIN, ['add', KVER, entry, image], { env: { ...s.env, KERNEL_INSTALL_LAYOUT: 'bls' } });
  assert.equal(r.status, 0, show(r));
  assert.match(r.stderr, /linux already carries a signature in security\.ima; left as it is/);
  assert.deepEqual(await xattrOf(linux), before);
  await kernelInstall(s, ['remove', KVER]);
  assert.ok(!existsSync(entry));
});

// -------------------------------------------------------------------------------------------------
// Debian: run-parts --arg=VERSION --arg=IMAGE /etc/kernel/post{inst,rm}.d, as the kernel packages do.

async function runParts(dir: string, args: string[], env: Record<string, string | undefined>): Promise<RunResult> {
  const r = await run('run-parts', ['--report', ...args.map((a) => `--arg=${a}`), dir], {
    env,
    timeoutMs: TIMEOUT_MS,
  });
  return r;
}

function debianEnv(root: string, conf: string, maint?: string): Record<string, string | undefined> {
  return { IMA_SIDECAR: BIN, IMA_SIDECAR_ROOT: root, IMA_SIDECAR_CONF: conf, DEB_MAINT_PARAMS: maint };
}

test(
  'Debian hooks with /boot on FAT: the shipped sidecar, the initrd signed with the key; postrm',
  FAT_TIMEOUT,
  async (t) => {
    if (hooksMissing(t)) return;
    const fat = await useMount(t, 'fat');
    if (!fat) return;
    const root = await tempDir(t);
    await symlink(fat.dir, join(root, 'boot'));
    const boot = join(root, 'boot');
    const conf = join(root, 'kernel-install.conf');
    await writeFile(conf, `key=${OTHER_KEY}\ncert=${OTHER_CERT}\n`);
    // As the package unpacks it: the image, and the sidecar shipped beside it; then the initrd, as the
    // initramfs-tools hook (which sorts before zz-) builds it.
    const { image, initrd } = await kernelFiles(boot, 11);
    await sign(image, 'sidecar');
    const shipped = await readFile(`${image}.sig`);

    await t.test('postinst', async () => {
      const r = await runParts(POSTINST_D, [KVER, image], debianEnv(root, conf, "'configure' ''"));
      assert.equal(r.status, 0, show(r));
      assert.equal(r.stdout, '', 'everything on stderr');
      assert.deepEqual(await readFile(`${image}.sig`), shipped, 'the shipped sidecar is kept');
      await verifies([image], CERT, 'sidecar');
      await verifies([initrd], OTHER_CERT, 'sidecar');
    });

    await t.test('postrm on upgrade, or while the files are there, keeps the sidecars', async () => {
      let r = await runParts(POSTRM_D, [KVER, image], debianEnv(root, conf, "'upgrade' '6.1.99-1'"));
      assert.equal(r.status, 0, show(r));
      r = await runParts(POSTRM_D, [KVER, image], debianEnv(root, conf));
      assert.equal(r.status, 0, show(r));
      assert.match(r.stderr, /is still there: its sidecar is kept/);
      assert.ok(existsSync(`${image}.sig`) && existsSync(`${initrd}.sig`));
    });

    await t.test('postrm after dpkg and the initramfs hook removed the files: the sidecars go', async () => {
      await rm(image);
      await rm(initrd);
      const r = await runParts(POSTRM_D, [KVER, image], debianEnv(root, conf, "'remove'"));
      assert.equal(r.status, 0, show(r));
      assert.deepEqual(await sorted(boot), []);
      const again = await runParts(POSTRM_D, [KVER, image], debianEnv(root, conf, "'purge'"));
      assert.equal(again.status, 0, show(again));
      assert.match(again.stderr, /no sidecars of kernel .* to remove/);
    });
  },
);

test(
  'Debian hooks with /boot on ext4 and /boot/firmware on FAT: copies get the image signature',
  FAT_TIMEOUT,
  async (t) => {
    if (hooksMissing(t)) return;
    const fat = await useMount(t, 'fat');
    if (!fat) return;
    const ext = await useMount(t, 'ext4');
    if (!ext) return;
    const root = join(ext.dir, 'root');
    const boot = join(root, 'boot');
    await mkdir(boot, { recursive: true });
    await symlink(fat.dir, join(boot, 'firmware'));
    const conf = join(ext.dir, 'none.conf');
    const { image, initrd } = await kernelFiles(boot, 13);
    await sign(image, 'xattr');
    // As a firmware hook (z50-raspi-firmware, say) copies them before ours runs.
    const copies = await kernelFiles(join(boot, 'firmware'), 13);

    await t.test(
      'postinst: the kernel copy gets security.ima as a sidecar, the unsigned initrd a message',
      async () => {
        const r = await runParts(POSTINST_D, [KVER, image], debianEnv(root, conf));
        assert.equal(r.status, 0, show(r));
        assert.deepEqual(await readFile(`${copies.image}.sig`), await xattrOf(image));
        await verifies([copies.image], CERT, 'sidecar');
        assert.match(r.stderr, /nothing to do for .*firmware\/initrd\.img-.*: .* has no security\.ima and no .*\.sig/);
        assert.ok(!existsSync(`${copies.initrd}.sig`));
        assert.ok(!existsSync(`${image}.sig`) && !existsSync(`${initrd}.sig`), '/boot itself is left alone');
      },
    );

    await t.test('postrm after the copies are gone', async () => {
      await rm(copies.image);
      await rm(copies.initrd);
      const r = await runParts(POSTRM_D, [KVER, image], debianEnv(root, conf, "'remove'"));
      assert.equal(r.status, 0, show(r));
      assert.deepEqual(await sorted(fat.dir), []);
    });
  },
);

test('Debian postinst with no FAT anywhere: nothing to do, exit 0', async (t) => {
  if (hooksMissing(t)) return;
  const ext = await useMount(t, 'ext4');
  if (!ext) return;
  const boot = join(ext.dir, 'boot');
  await mkdir(boot);
  const { image } = await kernelFiles(boot, 15);
  const r = await runParts(POSTINST_D, [KVER, image], debianEnv(ext.dir, join(ext.dir, 'none.conf')));
  assert.equal(r.status, 0, show(r));
  assert.match(r.stderr, /nothing to do: no kernel .* on a \/boot or \/boot\/firmware without extended attributes/);
  assert.deepEqual(await sorted(boot), [`initrd.img-${KVER}`, basename(image)]);
});
