/**
 * doctor's run and its output, loaded only when the command runs (its
 * modules stay out of every other command's start-up): the kernel header on
 * standard error, then per file `PATH: VERDICT (CAUSE): why` with `rule:`,
 * `fix:` and `note:` lines, or one JSON record per file and the summary.
 */
import { existsSync } from 'node:fs';
import {
  ConfigError,
  describeEvm,
  doctorFiles,
  gatherKernelView,
  keyctlVerifier,
  loadCertificates,
  PolicyError,
  ruleLocation,
} from '../index.js';
import type { Certificate, DoctorResult, HookName, KernelView, KeyringView } from '../index.js';
import { checkSuffix, GlobalArgs, outputOptions, requirePaths, warner, XattrArgs } from './common.js';
import { printable, Reporter, writeErr, writeOut } from './output.js';

export interface DoctorArgs extends GlobalArgs, XattrArgs {
  suffix: string;
  paths: string[];
  hook: HookName;
  policy?: string;
  cert?: string[];
  appraise?: 'enforce' | 'fix' | 'log' | 'off';
  'kernel-root'?: string;
}

function keyringLine(k: KeyringView): string {
  if (k.state !== 'present') return `keyring ${k.name}: ${k.state === 'absent' ? 'none' : 'unknown'}`;
  const keys = k.keys.map((key) => `${key.keyid ?? 'no keyid'}${key.subject ? ` '${key.subject}'` : ''}`);
  const how = k.membership === 'keyctl' ? '' : ' (membership from /proc/keys alone)';
  const count = `${keys.length} key${keys.length === 1 ? '' : 's'}`;
  return `keyring ${k.name}: ${count}${keys.length ? ` (${keys.join(', ')})` : ''}${how}`;
}

/** The note every verdict carries when another attribute is read as security.ima: printed once, in the header. */
const xattrNote = (name: string): string =>
  `${name} was read in place of security.ima (--xattr): the kernel reads security.ima`;

function printView(view: KernelView, verbose: boolean, xattrName: string): void {
  writeErr(`kernel: appraisal ${view.appraise.mode} (${view.appraise.how}); policy: ${view.policy.description}\n`);
  writeErr(`kernel: ${keyringLine(view.keyring)}; EVM: ${describeEvm(view.evm)}\n`);
  const notes = [...view.notes, ...(verbose ? view.keyring.notes : [])];
  if (xattrName !== 'security.ima') notes.push(xattrNote(xattrName));
  for (const n of notes) writeErr(`kernel: note: ${printable(n)}\n`);
}

function viewJson(view: KernelView): Record<string, unknown> {
  return {
    profile: view.profile.name,
    release: view.release ?? null,
    appraise: view.appraise.mode,
    appraiseHow: view.appraise.how,
    secureBoot: view.secureBoot.enabled ?? null,
    ima: view.ima,
    policySource: view.policy.source,
    policyPath: view.policy.path ?? null,
    policyRules: view.policy.rules.length,
    keyring: view.keyring.name,
    keyringState: view.keyring.state,
    keyids: view.keyring.keys.map((k) => k.keyid ?? null),
    evmKeyLoaded: view.evm.keyLoaded ?? null,
    notes: view.notes,
  };
}

function recordJson(r: DoctorResult): Record<string, unknown> {
  if (r.kind === 'error')
    return { path: r.path, hook: r.hook, verdict: 'error', reason: r.reason, code: r.code ?? null };
  return {
    path: r.path,
    hook: r.hook,
    verdict: r.verdict,
    cause: r.cause,
    auditRecord: r.auditRecord,
    explanation: r.explanation,
    rule: r.rule?.text ?? null,
    ruleAt: r.rule ? ruleLocation(r.rule) : null,
    func: r.func,
    fix: r.fix ?? null,
    certain: r.certain,
    notes: r.notes,
    realPath: r.realPath,
    filesystem: r.filesystem.type,
    fsMagic: `0x${r.filesystem.magic.toString(16)}`,
    fsUuid: r.filesystem.uuid ?? null,
    xattrs: r.filesystem.xattrs,
    owner: r.owner,
    value: r.value?.toString('hex') ?? null,
    sidecar: r.sidecar ?? null,
    openDenied: r.openDenied,
  };
}

function recordText(r: DoctorResult, xattrName: string): string {
  if (r.kind === 'error') return `${printable(r.path)}: error: ${printable(r.reason)}\n`;
  const qualifier = r.cause
    ? ` (${r.cause})`
    : r.verdict === 'denied' && !r.auditRecord
      ? ' (no audit record)'
      : !r.certain
        ? ' (unconfirmed)'
        : '';
  let out = `${printable(r.path)}: ${r.verdict}${qualifier}: ${printable(r.explanation)}\n`;
  if (r.rule) out += `  rule: ${printable(r.rule.text)}  (${printable(ruleLocation(r.rule))})\n`;
  if (r.fix) out += `  fix: ${printable(r.fix)}\n`;
  for (const n of r.notes) if (n !== xattrNote(xattrName)) out += `  note: ${printable(n)}\n`;
  return out;
}

/** The certificates: --cert, else the usual ones that exist (under --kernel-root). */
async function certificates(a: DoctorArgs, root: string): Promise<Certificate[]> {
  if (a.cert?.length) return loadCertificates(a.cert, warner(a));
  const defaults = ['/etc/keys/x509_ima.der', '/etc/keys/x509_evm.der'].map((p) => `${root}${p}`).filter(existsSync);
  return defaults.length ? loadCertificates(defaults, warner(a)) : [];
}

/** Runs doctor for the parsed command line; sets the exit code. */
export async function runDoctor(a: DoctorArgs): Promise<void> {
  const paths = requirePaths(a.paths);
  const xattrName = a.xattr;
  const suffix = checkSuffix(a.suffix);
  const root = (a['kernel-root'] ?? '').replace(/\/+$/, '');
  if (a['kernel-root'] !== undefined && root !== '' && !existsSync(root))
    throw new ConfigError(`--kernel-root ${a['kernel-root']}: no such folder`);
  let view: KernelView;
  try {
    view = gatherKernelView({ root, policyFile: a.policy, appraiseMode: a.appraise });
  } catch (e) {
    // The kernel refuses the whole file for one bad line: a usage error here, naming the file and line.
    if (e instanceof PolicyError) throw new ConfigError(`${e.message} (the kernel refuses the whole policy)`);
    throw e;
  }
  const certs = await certificates(a, root);
  const out = outputOptions(a);
  const reporter = new Reporter(out);
  if (!a.json && !a.quiet) printView(view, !!a.verbose, xattrName);
  const results = doctorFiles(paths, {
    hook: a.hook,
    view,
    certs,
    xattrName,
    suffix,
    keyVerifier: root === '' ? keyctlVerifier : undefined,
  });
  for await (const r of results) {
    const failed = r.kind === 'error' || r.verdict === 'denied';
    reporter.counter.add({ path: r.path, status: r.kind === 'error' ? 'error' : r.verdict, failed });
    if (a.json) writeOut(JSON.stringify(recordJson(r)) + '\n');
    else if (r.kind === 'error') writeErr(recordText(r, xattrName));
    else if (!a.quiet || failed) writeOut(recordText(r, xattrName));
  }
  process.exitCode = reporter.finish(
    undefined,
    a.json ? { hook: a.hook, xattr: xattrName, kernel: viewJson(view) } : {},
  );
}
