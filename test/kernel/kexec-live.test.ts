// kexec-live scenario: `ima-sidecar kexec` runs inside the guest (chrooted into the runtime disk,
// which holds kexec-tools too) and loads Debian's kernel kept on a real vfat ESP, with its sidecar,
// under `appraise func=KEXEC_KERNEL_CHECK|KEXEC_INITRAMFS_CHECK appraise_type=imasig` and the signing
// key in _ima. Plain `kexec -s -l` of the same file is denied; what ima-sidecar refuses (unsigned
// initrd, changed kernel, foreign key) is not loaded and said in one or two lines; --dry-run loads
// nothing; no staging is left, also after a SIGTERM while staging. doctor --hook kexec and
// kexec-initramfs must predict the kernel's verdicts for the ESP files and their copies on ext4 and
// tmpfs (where kexec stages). One boot (guest/kexec-live.sh).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { bootGuest, scenarioHooks, showRun as show } from './lib/scenario.js';
import { buildInitramfs, type GuestPlan } from './lib/initramfs.js';
import { tail } from './lib/qemu.js';
import { chooseSigningTool } from './lib/signer.js';
import { makeExt4Image, makeFatImage, makeKey, type Verdict } from './lib/fixtures.js';
import { DATA_DIR, ESP_DIR, makeRuntimeImage } from './lib/runtime.js';

const R = '/runtime';
const POLICY = [
  'appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig',
  'appraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig',
];
/** The policy file in the chroot (the kernel cannot show its policy back): doctor and kexec are given it. */
const P = ['--policy', '/tmp/policy'];
const HOST = `${DATA_DIR}/host`;
const MIGRATED = `${DATA_DIR}/kx`;
/** A tmpfs in the chroot, where `migrate` puts copies as kexec stages them. */
const STAGED = '/tmp/staged';
const esp = (n: string) => `${ESP_DIR}/${n}`;

interface KxLine {
  loaded: string;
  unloaded: string;
  left: string;
  mounts: string;
  seen?: string;
}

/** The guest's KX lines (what kexec_loaded and the staging folder said after each kexec), by name. */
function parseKx(body: string): Map<string, KxLine> {
  const kx = new Map<string, KxLine>();
  for (const line of body.split('\n')) {
    const m = /^KX name=(\S+) loaded=(\S+) unloaded=(\S+) left=(\S+) mounts=(\S+)(?: staging-seen=(\S+))?$/.exec(line);
    if (m) kx.set(m[1], { loaded: m[2], unloaded: m[3], left: m[4], mounts: m[5], seen: m[6] });
  }
  return kx;
}

/** One row of the doctor vs kernel table: a file, the hook, and how the kernel is asked. */
interface Row {
  name: string;
  hook: 'kexec' | 'kexec-initramfs';
  /** The file doctor is asked about (inside the chroot). */
  path: string;
  /** The plain kexec -s -l check: the kernel and, for kexec-initramfs, the initrd. */
  kernel: string;
  initrd?: string;
  how: string;
  expect: Verdict;
}

/** What `ima-sidecar kexec` in the guest must do. */
interface Load {
  name: string;
  args: string[];
  loads: boolean;
  /** For a refusal: what its lines must say (the file and the reason). */
  says?: RegExp;
}

describe('kexec-live: ima-sidecar kexec in the guest (vfat ESP, KEXEC_KERNEL_CHECK + KEXEC_INITRAMFS_CHECK)', () => {
  const scenario = scenarioHooks('ima-sidecar-kexec-live-');

  it('loads the ESP kernel, with or without a signed initrd, where plain kexec is denied; doctor agrees', async (t) => {
    const ready = scenario.begin(t);
    if (!ready) return;
    const { tools, work: w } = ready;
    const tool = chooseSigningTool();
    const keyDir = join(w, 'keys');
    const a = makeKey(keyDir, 'a', 2048);
    const stranger = makeKey(keyDir, 'stranger', 2048);
    const sign = (key: typeof a, to: 'sidecar' | 'xattr', paths: string[]) =>
      tool.sign({ keyPem: key.keyPem, certPem: key.certPem, hashAlgo: 'sha256', to }, paths);

    // The ESP: the kernel and initrds with sidecars. kexec_file_load takes any bytes as an initrd;
    // the big one makes staging last long enough to be interrupted.
    const espSrc = join(w, 'esp-src');
    mkdirSync(espSrc);
    const at = (n: string) => join(espSrc, n);
    for (const n of ['vmlinuz', 'vmlinuz-changed', 'vmlinuz-stranger']) copyFileSync(tools.kernel.vmlinuz, at(n));
    writeFileSync(at('initrd.img'), randomBytes(256 << 10));
    writeFileSync(at('initrd-unsigned.img'), randomBytes(64 << 10));
    writeFileSync(at('initrd-big.img'), randomBytes(48 << 20));
    sign(a, 'sidecar', ['vmlinuz', 'vmlinuz-changed', 'initrd.img', 'initrd-big.img'].map(at));
    sign(stranger, 'sidecar', [at('vmlinuz-stranger')]);
    appendFileSync(at('vmlinuz-changed'), 'changed after signing\n');
    const espFiles = ['vmlinuz', 'vmlinuz-changed', 'vmlinuz-stranger', 'initrd.img', 'initrd-big.img'];
    const espImage = join(w, 'esp.img');
    makeFatImage(espImage, [...espFiles.flatMap((n) => [at(n), at(`${n}.sig`)]), at('initrd-unsigned.img')], 'ESP');

    // The ext4 disk: values in security.ima written on the host, and room for the guest's migrate.
    const dataRoot = join(w, 'data-root');
    const host = join(dataRoot, 'host');
    mkdirSync(host, { recursive: true });
    mkdirSync(join(dataRoot, 'kx'));
    for (const n of ['vmlinuz-changed', 'vmlinuz-stranger', 'vmlinuz-unsigned'])
      copyFileSync(tools.kernel.vmlinuz, join(host, n));
    writeFileSync(join(host, 'initrd-unsigned.img'), randomBytes(64 << 10));
    sign(a, 'xattr', [join(host, 'vmlinuz-changed')]);
    sign(stranger, 'xattr', [join(host, 'vmlinuz-stranger')]);
    appendFileSync(join(host, 'vmlinuz-changed'), 'changed after signing\n');
    const dataUuid = randomUUID();
    const dataImage = join(w, 'data-ext4.img');
    makeExt4Image(dataRoot, dataImage, dataUuid, 'imadata', 24);
    const runtime = makeRuntimeImage(tools, w);

    const kernelOk = `${STAGED}/vmlinuz`;
    const rows: Row[] = [
      { name: 'esp:vmlinuz', hook: 'kexec', path: esp('vmlinuz'), how: 'on vfat (sidecar only)', expect: 'denied' },
      {
        name: 'ext4:migrated',
        hook: 'kexec',
        path: `${MIGRATED}/vmlinuz`,
        how: 'migrate in the guest',
        expect: 'allowed',
      },
      {
        name: 'tmpfs:staged',
        hook: 'kexec',
        path: kernelOk,
        how: 'migrate to tmpfs, as kexec stages',
        expect: 'allowed',
      },
      {
        name: 'ext4:changed',
        hook: 'kexec',
        path: `${HOST}/vmlinuz-changed`,
        how: 'changed after signing',
        expect: 'denied',
      },
      {
        name: 'ext4:stranger',
        hook: 'kexec',
        path: `${HOST}/vmlinuz-stranger`,
        how: 'a key not in _ima',
        expect: 'denied',
      },
      { name: 'ext4:unsigned', hook: 'kexec', path: `${HOST}/vmlinuz-unsigned`, how: 'no value', expect: 'denied' },
      {
        name: 'initrd:esp',
        hook: 'kexec-initramfs',
        path: esp('initrd.img'),
        how: 'on vfat (sidecar only)',
        expect: 'denied',
      },
      {
        name: 'initrd:staged',
        hook: 'kexec-initramfs',
        path: `${STAGED}/initrd.img`,
        how: 'migrate to tmpfs',
        expect: 'allowed',
      },
      {
        name: 'initrd:unsigned',
        hook: 'kexec-initramfs',
        path: `${HOST}/initrd-unsigned.img`,
        how: 'no value, on ext4',
        expect: 'denied',
      },
    ].map((r) => (r.hook === 'kexec' ? { ...r, kernel: r.path } : { ...r, kernel: kernelOk, initrd: r.path })) as Row[];
    const kexecStep = (phase: string, r: Row) =>
      `kexec ${phase}:${r.name} ${r.kernel}${r.initrd ? ` ${r.initrd}` : ''}`;

    const loads: Load[] = [
      { name: 'kx-kernel', args: [...P, esp('vmlinuz')], loads: true },
      { name: 'kx-initrd', args: [...P, '--initrd', esp('initrd.img'), esp('vmlinuz')], loads: true },
      {
        name: 'kx-unsigned-initrd',
        args: [...P, '--initrd', esp('initrd-unsigned.img'), esp('vmlinuz')],
        loads: false,
        says: /initrd-unsigned\.img: has no signature.*would refuse it.*KEXEC_INITRAMFS_CHECK/,
      },
      {
        name: 'kx-changed',
        args: [...P, esp('vmlinuz-changed')],
        loads: false,
        says: /vmlinuz-changed: kexec_file_load refused it: .*; doctor: \S*vmlinuz-changed invalid-signature/,
      },
      {
        name: 'kx-stranger',
        args: [...P, esp('vmlinuz-stranger')],
        loads: false,
        says: /vmlinuz-stranger: signed with keyid [0-9a-f]{8}, which is not in the kernel's IMA keyring/,
      },
      { name: 'kx-dry-run', args: ['--dry-run', ...P, '--initrd', esp('initrd.img'), esp('vmlinuz')], loads: false },
    ];
    const term = { name: 'kx-sigterm', args: [...P, '--initrd', esp('initrd-big.img'), esp('vmlinuz')] };

    const denied = rows.filter((r) => r.expect === 'denied');
    const stepsBefore = [
      `isc migrate-ext4 migrate ${esp('vmlinuz')} ${MIGRATED}`,
      `isc migrate-tmpfs migrate ${esp('vmlinuz')} ${STAGED}`,
      `isc migrate-tmpfs-initrd migrate ${esp('initrd.img')} ${STAGED}`,
      // After the migrations: the initrd checks load the tmpfs copy of the kernel.
      ...denied.map((r) => kexecStep('nopolicy', r)),
    ];
    const doctorOf = (hook: Row['hook']) =>
      `isc doctor-${hook} doctor --hook ${hook} ${P.join(' ')} --json ${rows
        .filter((r) => r.hook === hook)
        .map((r) => r.path)
        .join(' ')}`;
    const stepsAfter = [
      doctorOf('kexec'),
      doctorOf('kexec-initramfs'),
      ...rows.map((r) => kexecStep('enforce', r)),
      ...loads.map((l) => `isc ${l.name} kexec ${l.args.join(' ')}`),
      `term ${term.name} kexec ${term.args.join(' ')}`,
    ];
    const plan: GuestPlan = {
      keys: [{ name: 'a', der: a.certDer }],
      policy: POLICY,
      mounts: [
        { device: '/dev/vda', fstype: 'ext4', dir: R, options: 'ro' },
        { device: '/dev/vdb', fstype: 'vfat', dir: R + ESP_DIR, options: 'ro' },
        { device: '/dev/vdc', fstype: 'ext4', dir: R + DATA_DIR, options: 'rw' },
      ],
      checks: [],
      checksWithoutPolicy: [],
    };
    const initramfs = join(w, 'kexec-live.cpio');
    buildInitramfs(tools, plan, initramfs, {
      init: 'kexec-live.sh',
      files: [
        ['etc/ima-test/steps.nopolicy', stepsBefore.map((l) => `${l}\n`).join('')],
        ['etc/ima-test/steps', stepsAfter.map((l) => `${l}\n`).join('')],
        ['etc/ima-test/by-uuid', `/dev/vda ${runtime.uuid}\n/dev/vdc ${dataUuid}\n`],
      ],
    });
    const g = await bootGuest(t, tools, 'kexec-live', initramfs, [
      { file: runtime.image, readonly: true },
      { file: espImage, readonly: true },
      { file: dataImage, readonly: false },
    ]);
    const { report: rep, problems, cmd } = g;
    const kx = parseKx(g.output);
    for (const n of ['migrate-ext4', 'migrate-tmpfs', 'migrate-tmpfs-initrd']) {
      const m = cmd(n);
      if (m.exit !== 0) problems.push(`${n} in the guest: exit ${m.exit}: ${show(m)}`);
    }

    // ima-sidecar kexec: loaded or not, as expected; refusals in one or two lines naming file and reason.
    const clean = (n: string, k: KxLine | undefined) => {
      if (!k) problems.push(`${n}: no KX line`);
      else if (k.left !== 'none' || k.mounts !== '0')
        problems.push(`${n}: staging left behind: ${k.left}, ${k.mounts} mounts`);
      else if (k.unloaded !== '0' && k.unloaded !== '-') problems.push(`${n}: still loaded after kexec -u`);
    };
    for (const l of loads) {
      const run = cmd(l.name);
      const k = kx.get(l.name);
      t.diagnostic(`ima-sidecar ${l.name}: exit ${run.exit}, kexec_loaded ${k?.loaded ?? '?'}: ${show(run)}`);
      clean(l.name, k);
      const wantExit = l.loads || l.name === 'kx-dry-run' ? 0 : 1;
      if (run.exit !== wantExit) problems.push(`${l.name}: exit ${run.exit}, expected ${wantExit}: ${show(run)}`);
      if (k && k.loaded !== (l.loads ? '1' : '0'))
        problems.push(`${l.name}: /sys/kernel/kexec_loaded was ${k.loaded}, expected ${l.loads ? 1 : 0}`);
      if (run.lines.some((x) => /^\s+at /.test(x))) problems.push(`${l.name}: a stack trace: ${show(run)}`);
      if (l.loads && !run.lines.some((x) => /^loaded: .*kexec -s -l /.test(x)))
        problems.push(`${l.name}: no "loaded:" line: ${show(run)}`);
      if (l.name === 'kx-dry-run' && !run.lines.some((x) => /^not loaded \(--dry-run\)/.test(x)))
        problems.push(`${l.name}: no "not loaded (--dry-run)" line: ${show(run)}`);
      if (l.says) {
        if (run.lines.length > 2) problems.push(`${l.name}: ${run.lines.length} lines, not one or two: ${show(run)}`);
        if (!run.lines.some((x) => l.says!.test(x))) problems.push(`${l.name}: expected ${l.says}: ${show(run)}`);
      }
    }
    const tr = cmd(term.name);
    const tk = kx.get(term.name);
    t.diagnostic(`SIGTERM while staging: exit ${tr.exit}, staging seen ${tk?.seen}, kexec_loaded ${tk?.loaded}`);
    clean(term.name, tk);
    if (tk?.seen !== 'yes')
      problems.push(`${term.name}: the staging folder was never seen, so no signal while staging`);
    if (tk && tk.loaded !== '0') problems.push(`${term.name}: a kernel was loaded after SIGTERM`);
    if (tr.exit !== 143) problems.push(`${term.name}: exit ${tr.exit}, expected 143 (SIGTERM): ${show(tr)}`);
    for (const n of ['start', 'end']) clean(n, kx.get(n));

    // doctor (asked before each load) against the kernel's plain kexec_file_load of the same file.
    const predicted = new Map<string, { verdict: string; cause: string | null }>();
    for (const hook of ['kexec', 'kexec-initramfs']) {
      const doc = cmd(`doctor-${hook}`);
      for (const l of doc.lines) {
        if (!l.startsWith('{')) continue;
        try {
          const o = JSON.parse(l) as { path?: string; hook?: string; verdict?: string; cause?: string | null };
          if (o.path && o.verdict) predicted.set(`${o.hook}:${o.path}`, { verdict: o.verdict, cause: o.cause ?? null });
        } catch {
          problems.push(`doctor printed a line that is not JSON: ${l}`);
        }
      }
    }
    const table: string[] = [];
    for (const row of rows) {
      const p = predicted.get(`${row.hook}:${row.path}`);
      const d = p ? (p.verdict === 'not-appraised' ? 'allowed' : p.verdict) : 'missing';
      const k = rep.results.find((x) => x.phase === 'enforce' && x.name === `enforce:${row.name}`);
      const causes = [...new Set(rep.audits.filter((x) => x.name === R + row.path).map((x) => x.cause))];
      const verdicts = `doctor=${(p?.verdict ?? 'missing').padEnd(13)} kernel=${(k?.verdict ?? 'missing').padEnd(8)}`;
      table.push(
        `${row.hook.padEnd(15)} ${row.path.padEnd(34)} ${verdicts} ` +
          `cause=${p?.cause ?? '-'}/${causes.join(',') || '-'} (${row.how})`,
      );
      if (causes.length && !causes.includes(p?.cause ?? ''))
        problems.push(`${row.path}: doctor's cause ${p?.cause ?? 'none'}, the kernel's ${causes.join(',')}`);
      if (!k) problems.push(`${row.name}: no kernel verdict`);
      else if (k.verdict !== row.expect)
        problems.push(`${row.name}: the kernel said ${k.verdict} (${k.msg}), expected ${row.expect}`);
      if (k && d !== k.verdict)
        problems.push(`${row.name}: doctor predicted ${p?.verdict ?? 'nothing'}, kernel ${k.verdict}`);
      if (row.expect === 'denied') {
        const b = rep.results.find((x) => x.phase === 'nopolicy' && x.name === `nopolicy:${row.name}`);
        if (b?.verdict !== 'allowed')
          problems.push(`${row.name}: not loaded before the policy (${b?.msg ?? 'unchecked'})`);
      }
    }
    t.diagnostic('doctor --hook kexec|kexec-initramfs (in the guest) vs the kernel (plain kexec -s -l):');
    for (const line of table) t.diagnostic(line);
    assert.deepEqual(problems, [], `serial log tail:\n${tail(g.output, 60)}`);
  });
});
