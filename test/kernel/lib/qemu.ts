// Boots the guest once under qemu (software emulation) and reads its verdicts from the
// serial console.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Toolchain } from './toolchain.js';
import { onInterrupt } from './interrupt.js';

/** `ima_appraise=enforce` is all it takes; the policy is written by the guest. */
export const KERNEL_CMDLINE = 'console=ttyS0 panic=-1 ima_appraise=enforce';

export interface Drive {
  file: string;
  /** The guest sees drives as /dev/vda, /dev/vdb, ... in this order. */
  readonly: boolean;
}

export interface BootResult {
  output: string;
  durationMs: number;
  timedOut: boolean;
  exitCode: number | null;
}

/** When set, each boot's serial log is also written there as <scenario>.log (for debugging). */
export const LOG_DIR = process.env.IMA_SIDECAR_KERNEL_LOG_DIR;

export const BOOT_TIMEOUT_MS = Number(process.env.IMA_SIDECAR_KERNEL_BOOT_TIMEOUT_MS || 300_000);

export function boot(
  tools: Toolchain,
  initramfs: string,
  drives: Drive[],
  timeoutMs = BOOT_TIMEOUT_MS,
  memoryMiB = 512,
): Promise<BootResult> {
  const args = [
    // /dev/kvm here is a paravirtual KVM on which a stock kernel hangs in its
    // decompressor: always emulate.
    '-accel',
    'tcg',
    '-cpu',
    'max',
    '-m',
    String(memoryMiB),
    '-smp',
    '1',
    '-nographic',
    '-no-reboot',
    '-kernel',
    tools.kernel.vmlinuz,
    '-initrd',
    initramfs,
    '-append',
    KERNEL_CMDLINE,
  ];
  for (const d of drives) {
    args.push('-drive', `file=${d.file},format=raw,if=virtio${d.readonly ? ',readonly=on' : ''}`);
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(tools.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = onInterrupt(() => child.kill('SIGKILL'));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      stop();
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      stop();
      resolve({
        output: Buffer.concat(chunks).toString('utf8').replace(/\r/g, ''),
        durationMs: Date.now() - started,
        timedOut,
        exitCode: code,
      });
    });
  });
}

export interface CheckResult {
  phase: string;
  name: string;
  op: string;
  verdict: string;
  errno: string;
  msg: string;
}

export interface AuditRecord {
  op: string;
  cause: string;
  name: string;
  comm: string;
  line: string;
}

export interface GuestReport {
  began: boolean;
  ended: boolean;
  /** Why the lines between BEGIN and END are not the ones the guest wrote (digest or count differ). */
  damage?: string;
  results: CheckResult[];
  info: Map<string, string>;
  audits: AuditRecord[];
  dmesg: string[];
  keys: string[];
}

function field(line: string, key: string): string {
  const m = new RegExp(`\\b${key}=("([^"]*)"|\\S+)`).exec(line);
  return m ? (m[2] ?? m[1]) : '';
}

export function parseReport(output: string): GuestReport {
  const rep: GuestReport = {
    began: false,
    ended: false,
    results: [],
    info: new Map(),
    audits: [],
    dmesg: [],
    keys: [],
  };
  const body: string[] = [];
  for (const line of output.split('\n')) {
    if (rep.ended) break;
    if (line === 'IMA-TEST BEGIN') {
      rep.began = true;
      continue;
    }
    if (line.startsWith('IMA-TEST END')) {
      rep.ended = true;
      // The guest's digest of the lines it wrote: output the host lost or got mixed up
      // with console messages on the way is damage, not a verdict of the kernel.
      const m = /^IMA-TEST END md5=([0-9a-f]{32}) lines=(\d+)$/.exec(line);
      const md5 = createHash('md5')
        .update(body.map((l) => `${l}\n`).join(''))
        .digest('hex');
      if (!m) rep.damage = `garbled end line '${line}'`;
      else if (md5 !== m[1])
        rep.damage = `the guest wrote ${m[2]} lines (md5 ${m[1]}), the host got ${body.length} (md5 ${md5})`;
      continue;
    }
    if (rep.began) body.push(line);
    if (line.startsWith('RESULT ')) {
      const m = /^RESULT phase=(\S+) name=(\S+) op=(\S+) verdict=(\S+) errno=(\S+) msg=(.*)$/.exec(line);
      if (m) rep.results.push({ phase: m[1], name: m[2], op: m[3], verdict: m[4], errno: m[5], msg: m[6].trim() });
    } else if (line.startsWith('INFO ')) {
      const m = /^INFO ([^=]+)=(.*)$/.exec(line);
      if (m) rep.info.set(m[1], m[2]);
    } else if (line.startsWith('KEYS ')) rep.keys.push(line.slice(5));
    else if (line.startsWith('DMESG ')) {
      const d = line.slice(6);
      rep.dmesg.push(d);
      // e.g. audit: type=1800 audit(...): pid=61 uid=0 ... op=appraise_data cause=invalid-signature comm="cat"
      // name="/mnt/a/x" dev="vda" ino=13 res=0 errno=0
      if (/type=18\d\d\b/.test(d) && / cause=/.test(d)) {
        rep.audits.push({
          op: field(d, 'op'),
          cause: field(d, 'cause'),
          name: field(d, 'name'),
          comm: field(d, 'comm'),
          line: d,
        });
      }
    }
  }
  return rep;
}

/** The end of the serial log, for assertion messages. */
export function tail(output: string, lines = 60): string {
  return output.split('\n').slice(-lines).join('\n');
}
