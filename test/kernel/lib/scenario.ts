// What the in-guest scenarios (live, kexec-live) share: the toolchain and a private work folder for the describe
// block, and the ISC lines their guest scripts print for each ima-sidecar command run in the guest.
import { after, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipOrFail } from '../../helpers/skip.js';
import { onInterrupt } from './interrupt.js';
import { LOG_DIR, boot, parseReport, tail, type Drive, type GuestReport } from './qemu.js';
import { setupToolchain, type Setup, type Toolchain } from './toolchain.js';

/**
 * Registers before/after hooks: the toolchain set up and a fresh work folder made before the tests, the folder
 * removed after them and on an interrupt. The getters read what the hooks made.
 */
export function scenarioHooks(prefix: string): {
  /** The toolchain and the work folder, or undefined when the test cannot run (skipped; a failure under CI). */
  begin: (t: TestContext) => { tools: Toolchain; work: string } | undefined;
} {
  let setup: Setup = { ok: false, reason: 'setup did not run' };
  let work: string | undefined;
  let unregister = (): void => undefined;
  before(() => {
    setup = setupToolchain();
    if (!setup.ok) return;
    const dir = mkdtempSync(join(process.env.IMA_SIDECAR_KERNEL_WORKDIR || tmpdir(), prefix));
    work = dir;
    unregister = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
    unregister();
  });
  return {
    begin: (t) => {
      if (!setup.ok) {
        skipOrFail(t, setup.reason);
        return undefined;
      }
      return { tools: setup.tools, work: work! };
    },
  };
}

/** One ima-sidecar command run in the guest: its output lines and exit status. */
export interface IscRun {
  exit: number | undefined;
  lines: string[];
}

/** The `ISC name=N line=L` and `ISC-EXIT name=N exit=E` lines of a guest report, by command name. */
export function parseIsc(output: string): Map<string, IscRun> {
  const runs = new Map<string, IscRun>();
  const get = (n: string) => runs.get(n) ?? runs.set(n, { exit: undefined, lines: [] }).get(n)!;
  for (const line of output.split('\n')) {
    let m = /^ISC name=(\S+) line=(.*)$/.exec(line);
    if (m) get(m[1]!).lines.push(m[2]!);
    m = /^ISC-EXIT name=(\S+) exit=(\d+)$/.exec(line);
    if (m) get(m[1]!).exit = Number(m[2]);
  }
  return runs;
}

/** A command's lines on one line, for messages. */
export function showRun(run: IscRun): string {
  return run.lines.join(' | ');
}

/** A scenario's boot, checked as a whole: its report, its commands, and the problems found so far. */
export interface GuestRun {
  readonly output: string;
  readonly report: GuestReport;
  readonly runs: Map<string, IscRun>;
  /** The setup steps that failed; the test adds its own and fails if any. */
  readonly problems: string[];
  /** The command's run; a command that did not run is a problem (and an empty run). */
  cmd(name: string): IscRun;
}

/**
 * Boots the guest with 1 GiB (node runs in it) and fails the test for a boot that proves nothing: one that did not
 * power off, did not run to its end, or whose report came through damaged (no verdict either way).
 */
export async function bootGuest(
  t: TestContext,
  tools: Toolchain,
  name: string,
  initramfs: string,
  drives: Drive[],
): Promise<GuestRun> {
  const r = await boot(tools, initramfs, drives, undefined, 1024);
  if (LOG_DIR) writeFileSync(join(LOG_DIR, `${name}.log`), r.output);
  t.diagnostic(`boot "${name}": ${(r.durationMs / 1000).toFixed(1)} s under qemu (tcg), -m 1024`);
  if (r.timedOut) assert.fail(`the guest did not power off in time; serial log tail:\n${tail(r.output)}`);
  const report = parseReport(r.output);
  if (!report.began || !report.ended)
    assert.fail(`the guest did not run to its end; serial log tail:\n${tail(r.output)}`);
  // The ISC lines are inside the report: a damaged one is no verdict on ima-sidecar either.
  if (report.damage) assert.fail(`the serial output was damaged (${report.damage}); tail:\n${tail(r.output)}`);
  const runs = parseIsc(r.output);
  const problems = report.results
    .filter((x) => x.phase === 'setup' && x.verdict !== 'allowed')
    .map((x) => `setup step ${x.name} failed: ${x.msg}`);
  const cmd = (n: string): IscRun => {
    const run = runs.get(n);
    if (!run) problems.push(`ima-sidecar ${n} did not run in the guest`);
    return run ?? { exit: undefined, lines: [] };
  };
  return { output: r.output, report, runs, problems, cmd };
}
