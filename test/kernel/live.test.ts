// Live scenario: ima-sidecar runs inside the guest (chrooted into a runtime disk holding node
// and the package), against a real vfat ESP and an ext4 disk, with the keys in _ima but before
// the IMA policy is written, as an early boot hook would. Then the guest writes the policy and
// the kernel judges reads; doctor's predictions (made in the guest, from the policy file) must
// be the kernel's verdicts. After the policy, import meets a sidecar the policy covers (the kernel
// refuses to open it); last, with an EVM key loaded, import meets EVM's refusal to write security.ima
// on a file without security.evm, then EVM_ALLOW_METADATA_WRITES lets it through. One boot (guest/live.sh).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { bootGuest, scenarioHooks, showRun as show, type IscRun } from './lib/scenario.js';
import { buildInitramfs, type Check, type GuestPlan } from './lib/initramfs.js';
import { tail } from './lib/qemu.js';
import { chooseSigningTool } from './lib/signer.js';
import { makeExt4Image, makeFatImage, makeKeys, prepareAppraiseTree, type Verdict } from './lib/fixtures.js';
import { DATA_DIR, ESP_DIR, EVM_DIR, makeRuntimeImage } from './lib/runtime.js';

const R = '/runtime';
/** vfat's superblock magic (MSDOS_SUPER_MAGIC): vfat has no UUID the kernel knows for fsuuid=. */
const VFAT_MAGIC = '0x4d44';
/** The files signed into sidecars on the ESP. */
const ESP_FILES = ['grubx64.efi', 'grub.cfg'];
/** A file of the runtime disk, whose UUID no rule names. */
const UNCOVERED = '/data/uncovered';
/** A suite file signed into the xattr and a sidecar both: readable, its sidecar (under the policy) not. */
const SIGNED_BOTH = `${DATA_DIR}/suite/signed-both-sha256`;
/** The EVM disk's file, with a sidecar, for an import once an EVM key is loaded. */
const EVM_FILE = `${EVM_DIR}/kernel`;

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** One line, that line matching, no stack trace: what every refusal must look like. */
function oneLine(run: IscRun, exit: number, pattern: RegExp): string | undefined {
  const text = run.lines.join(' | ');
  if (run.exit !== exit) return `exit ${run.exit}, expected ${exit}: ${text}`;
  if (run.lines.length !== 1) return `${run.lines.length} lines, expected one: ${text}`;
  if (!pattern.test(run.lines[0]!)) return `the line does not match ${String(pattern)}: ${text}`;
  return undefined;
}

interface Case {
  /** The path inside the chroot (what ima-sidecar is given). */
  path: string;
  how: string;
  expect: Verdict;
}

describe('live: ima-sidecar in the guest (Debian kernel under qemu, IMA appraisal enforcing)', () => {
  const scenario = scenarioHooks('ima-sidecar-live-');

  it('status, import -r and migrate -r run in the guest before the policy; doctor predicts the kernel', async (t) => {
    const ready = scenario.begin(t);
    if (!ready) return;
    const { tools, work: w } = ready;
    const tool = chooseSigningTool();
    const keyDir = join(w, 'keys');
    const keys = makeKeys(keyDir);

    // The ext4 disk: the appraisal suite's files (signed, tampered, foreign key, ...) under
    // suite/; the guest migrates the ESP into migrated/.
    const dataRoot = join(w, 'data-root');
    const suite = prepareAppraiseTree(tool, join(dataRoot, 'suite'), keys);
    const dataUuid = randomUUID();
    const dataImage = join(w, 'data-ext4.img');
    makeExt4Image(dataRoot, dataImage, dataUuid, 'imadata');

    const espSrc = join(w, 'esp-src');
    mkdirSync(espSrc);
    for (const n of ESP_FILES) writeFileSync(join(espSrc, n), `ESP file ${n}\n${randomUUID()}\n`);
    tool.sign({ keyPem: keys.a.keyPem, certPem: keys.a.certPem, hashAlgo: 'sha256', to: 'sidecar' }, [
      ...ESP_FILES.map((n) => join(espSrc, n)),
    ]);
    const espImage = join(w, 'esp.img');
    makeFatImage(
      espImage,
      ESP_FILES.flatMap((n) => [join(espSrc, n), join(espSrc, `${n}.sig`)]),
      'ESP',
    );

    // The EVM disk: no policy rule names its UUID, so only EVM stands between import and the write.
    const evmRoot = join(w, 'evm-root');
    mkdirSync(evmRoot);
    writeFileSync(join(evmRoot, 'kernel'), `a file for the EVM stage\n${randomUUID()}\n`);
    tool.sign({ keyPem: keys.a.keyPem, certPem: keys.a.certPem, hashAlgo: 'sha256', to: 'sidecar' }, [
      join(evmRoot, 'kernel'),
    ]);
    const evmImage = join(w, 'evm-ext4.img');
    makeExt4Image(evmRoot, evmImage, randomUUID(), 'imaevm');

    const uncovered = join(w, 'uncovered');
    copyFileSync(join(espSrc, ESP_FILES[0]), uncovered);
    const runtime = makeRuntimeImage(tools, w, [[UNCOVERED, uncovered]]);

    const cases: Case[] = [
      ...suite.map((c) => ({ path: `${DATA_DIR}/suite/${c.path}`, how: c.how, expect: c.expect })),
      ...ESP_FILES.map((n) => ({
        path: `${DATA_DIR}/migrated/${n}`,
        how: 'migrate -r from the ESP, in the guest',
        expect: 'allowed' as const,
      })),
      { path: `${ESP_DIR}/${ESP_FILES[0]}`, how: 'on vfat (sidecar only)', expect: 'denied' },
      { path: UNCOVERED, how: 'no rule covers its filesystem', expect: 'allowed' },
      { path: `${SIGNED_BOTH}.sig`, how: 'a sidecar under the policy, no signature of its own', expect: 'denied' },
    ];
    const name = (p: string) => p.replace(/^\//, '').replace(/\//g, ':');
    const checks: Check[] = cases.map((c) => ({ op: 'read', name: name(c.path), path: R + c.path }));
    const policy = [
      `appraise func=FILE_CHECK mask=MAY_READ fsuuid=${dataUuid} appraise_type=imasig`,
      `appraise func=FILE_CHECK mask=MAY_READ fsmagic=${VFAT_MAGIC} appraise_type=imasig`,
    ];
    const plan: GuestPlan = {
      keys: [
        { name: 'a', der: keys.a.certDer },
        { name: 'b', der: keys.b.certDer },
      ],
      policy,
      mounts: [
        { device: '/dev/vda', fstype: 'ext4', dir: R, options: 'ro' },
        { device: '/dev/vdb', fstype: 'vfat', dir: R + ESP_DIR, options: 'ro' },
        { device: '/dev/vdc', fstype: 'ext4', dir: R + DATA_DIR, options: 'rw' },
        { device: '/dev/vdd', fstype: 'ext4', dir: R + EVM_DIR, options: 'rw' },
      ],
      checks,
      checksWithoutPolicy: checks.filter((c, i) => cases[i].expect === 'denied'),
    };
    const isc = [
      `status ${ESP_DIR}/${ESP_FILES[0]}`,
      `import -r ${ESP_DIR}`,
      `migrate -r ${ESP_DIR} ${DATA_DIR}/migrated`,
      `status -r ${DATA_DIR}/migrated`,
      `doctor --policy /tmp/policy --json ${cases.map((c) => c.path).join(' ')}`,
    ];
    const iscNames = ['status-esp', 'import-esp', 'migrate', 'status-migrated', 'doctor-read'];
    const initramfs = join(w, 'live.cpio');
    buildInitramfs(tools, plan, initramfs, {
      init: 'live.sh',
      files: [
        ['etc/ima-test/isc', isc.map((l, i) => `${iscNames[i]} ${l}\n`).join('')],
        ['etc/ima-test/isc.after', `sidecar-unreadable import ${SIGNED_BOTH}\n`],
        ['etc/ima-test/evm.keys/a.der', keys.a.certDer],
        // 2: an X.509 key (needs no trusted/encrypted keys in the guest); then 4, EVM_ALLOW_METADATA_WRITES.
        ['etc/ima-test/evm.stages', `2 import-evm import ${EVM_FILE}\n4 import-evm-allowed import ${EVM_FILE}\n`],
      ],
    });
    const {
      output,
      report: rep,
      runs,
      problems,
      cmd,
    } = await bootGuest(t, tools, 'live', initramfs, [
      { file: runtime.image, readonly: true },
      { file: espImage, readonly: true },
      { file: dataImage, readonly: false },
      { file: evmImage, readonly: false },
    ]);
    for (const [n, run] of runs) t.diagnostic(`ima-sidecar ${n}: exit ${run.exit}, ${run.lines.length} lines`);

    // 1-2: status on the ESP names vfat and says it takes no xattrs.
    const st = cmd('status-esp');
    const row = st.lines.find((l) => l.endsWith(`${ESP_DIR}/${ESP_FILES[0]}`))?.split(/\s+/);
    if (st.exit !== 0 || !row || row[1] !== 'vfat' || row[2] !== 'no')
      problems.push(`status on the ESP: exit ${st.exit}, expected FS vfat and XATTRS no: ${show(st)}`);
    const imp = cmd('import-esp');
    if (imp.exit !== 0 || !imp.lines.some((l) => /unsupported/i.test(l)))
      problems.push(`import -r on the ESP: exit ${imp.exit}, expected 0 and "unsupported": ${show(imp)}`);
    const mig = cmd('migrate');
    if (mig.exit !== 0) problems.push(`migrate -r in the guest: exit ${mig.exit}: ${show(mig)}`);
    const sm = cmd('status-migrated');
    for (const n of ESP_FILES) {
      const l = sm.lines.find((x) => x.endsWith(`${DATA_DIR}/migrated/${n}`));
      if (!l || !/\bext4\s+yes\b/.test(l) || !/\bsig\w*/.test(l))
        problems.push(`status of the migrated ${n}: ${l ?? 'no line'} (${show(sm)})`);
    }

    // 3: doctor's prediction (made before the policy) against the kernel's verdict (after it).
    const doc = cmd('doctor-read');
    const predicted = new Map<string, { verdict: string; cause: string | null }>();
    for (const l of doc.lines) {
      if (!l.startsWith('{')) continue;
      try {
        const o = JSON.parse(l) as { path?: string; verdict?: string; cause?: string | null };
        if (o.path && o.verdict) predicted.set(o.path, { verdict: o.verdict, cause: o.cause ?? null });
      } catch {
        problems.push(`doctor printed a line that is not JSON: ${l}`);
      }
    }
    const rows: string[] = [];
    for (const c of cases) {
      const p = predicted.get(c.path);
      const d = p ? (p.verdict === 'not-appraised' ? 'allowed' : p.verdict) : 'missing';
      const k = rep.results.find((x) => x.phase === 'enforce' && x.name === name(c.path));
      const causes = rep.audits.filter((a) => a.name === R + c.path).map((a) => a.cause);
      const verdicts = `doctor=${(p?.verdict ?? 'missing').padEnd(13)} kernel=${(k?.verdict ?? 'missing').padEnd(8)}`;
      rows.push(`${c.path.padEnd(44)} ${verdicts} cause=${p?.cause ?? '-'}/${causes.join(',') || '-'} (${c.how})`);
      // The cause doctor names must be the one IMA's audit record gives (vfat gives none).
      if (causes.length && !causes.includes(p?.cause ?? ''))
        problems.push(`${c.path}: doctor's cause ${p?.cause ?? 'none'}, the kernel's ${causes.join(',')}`);
      if (!k) problems.push(`${c.path}: no kernel verdict`);
      else if (k.verdict !== c.expect) problems.push(`${c.path}: the kernel said ${k.verdict}, expected ${c.expect}`);
      if (k && d !== k.verdict)
        problems.push(`${c.path}: doctor predicted ${p?.verdict ?? 'nothing'}, kernel ${k.verdict}`);
      if (c.expect === 'denied') {
        const b = rep.results.find((x) => x.phase === 'nopolicy' && x.name === name(c.path));
        if (b?.verdict !== 'allowed')
          problems.push(`${c.path}: not allowed before the policy (${b?.msg ?? 'unchecked'})`);
      }
    }
    // 4: after the policy, the sidecar of a readable file cannot be opened: one line naming the sidecar
    // and IMA (access(2) allows the read: the refusal came at open time).
    const sidecarLine = new RegExp(
      `^${escape(SIGNED_BOTH)}: invalid: cannot read sidecar ${escape(SIGNED_BOTH)}\\.sig: permission denied on ` +
        `open although its permissions allow reading it \\(the kernel's IMA policy may cover the sidecar itself`,
    );
    const unreadable = oneLine(cmd('sidecar-unreadable'), 1, sidecarLine);
    if (unreadable) problems.push(`import with a sidecar the policy covers: ${unreadable}`);

    // 5: EVM with an X.509 key: the kernel refuses security.ima on a file without security.evm (EPERM,
    // and EVM's own audit record says so); import says EVM and the ways past it. EVM_ALLOW_METADATA_WRITES,
    // the first of them, then lets the same import through.
    const evmLine = new RegExp(
      `^${escape(EVM_FILE)}: failed: EVM refused to write security\\.ima \\(EPERM\\): an EVM X\\.509 key is ` +
        `loaded \\(/sys/kernel/security/evm reads 2\\) and the file has no security\\.evm; boot with evm=fix, ` +
        `write 4 \\(EVM_ALLOW_METADATA_WRITES\\) to /sys/kernel/security/evm, write it before EVM is initialised`,
    );
    if (rep.info.get('evm.import-evm') !== '2')
      problems.push(`/sys/kernel/security/evm read ${rep.info.get('evm.import-evm')} after writing 2`);
    const evmRefused = oneLine(cmd('import-evm'), 1, evmLine);
    if (evmRefused) problems.push(`import with an EVM key loaded: ${evmRefused}`);
    const evmAudit = rep.audits.filter((a) => a.op === 'update_metadata' && a.cause === 'no_xattrs');
    if (!evmAudit.length)
      problems.push("no EVM audit record (op=update_metadata cause=no_xattrs): was it EVM's EPERM?");
    if (rep.info.get('evm.import-evm-allowed') !== '6')
      problems.push(`/sys/kernel/security/evm read ${rep.info.get('evm.import-evm-allowed')} after writing 4`);
    const allowed = cmd('import-evm-allowed');
    if (allowed.exit !== 0 || !allowed.lines.some((l) => /\bimported\b/.test(l)))
      problems.push(`import with EVM_ALLOW_METADATA_WRITES: exit ${allowed.exit}: ${show(allowed)}`);
    t.diagnostic(`EVM refusal: ${cmd('import-evm').lines.join(' | ')}`);
    t.diagnostic(`unreadable sidecar: ${cmd('sidecar-unreadable').lines.join(' | ')}`);

    // One diagnostic a row: the TAP reporter escapes newlines inside one.
    t.diagnostic('doctor (in the guest, before the policy) vs the kernel (after):');
    for (const row of rows) t.diagnostic(row);
    assert.deepEqual(problems, [], `serial log tail:\n${tail(output, 40)}`);
  });
});
