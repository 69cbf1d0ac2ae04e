import { FileResult, SummaryCounter, forEachResult, resultToJson } from '../index.js';
/**
 * Printing results: a line per file for people (failures on stderr), or one
 * JSON object per file and a final summary object with --json; a progress
 * line on a terminal; exit codes 0 / 1 / 2 / 130 / 143.
 */

export interface OutputOptions {
  readonly json?: boolean;
  readonly quiet?: boolean;
  readonly verbose?: boolean;
  readonly progress?: boolean;
  /** A run that selected no file is a failure (verify: checking nothing is not a success). */
  readonly nothingSelectedFails?: boolean;
}

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\\\u2028\u2029]|[\ud800-\udfff]/gu;
// eslint-disable-next-line no-control-regex
const HAS_UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\\\u2028\u2029\ud800-\udfff]/;

/**
 * Makes a path (or a reason naming one) printable on one line, without
 * letting a name drive the terminal: C0 and C1 control characters (a newline
 * in a name, an escape sequence) and the backslash are escaped, and so are
 * the bytes of a name that is not UTF-8 (carried as U+DC80..U+DCFF, see
 * carriers/fs-path.ts), as `\xNN` with the byte itself.
 */
export function printable(path: string): string {
  // Most names need nothing: a test is cheaper than a replace that changes nothing.
  if (!HAS_UNPRINTABLE.test(path)) return path;
  return path.replace(UNPRINTABLE, (c) => {
    const cp = c.codePointAt(0)!;
    if (c === '\\') return '\\\\';
    if (cp < 0x80) return `\\x${cp.toString(16).padStart(2, '0')}`;
    if (cp >= 0xdc80 && cp <= 0xdcff) return `\\x${(cp - 0xdc00).toString(16)}`;
    return `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}

export function describeForPeople(r: FileResult): string {
  const bits: string[] = [];
  const d = r.decoded;
  if (d) bits.push(d.kind === 'signature' ? `v${d.version} ${d.algo.name} keyid ${d.keyid}` : `${d.algo.name} digest`);
  const carriers = r.details?.carriers;
  if (Array.isArray(carriers) && carriers.length && typeof carriers[0] === 'string')
    bits.push(`into ${carriers.join(' and ')}`);
  else if (Array.isArray(carriers) && carriers.length)
    bits.push(`from ${carriers.map((c) => (c as { carrier: string }).carrier).join(' and ')}`);
  return bits.length ? ` (${bits.join(', ')})` : '';
}

/**
 * Standard output closed under us (`ima-sidecar status -r / | head`): like a
 * SIGPIPE, stop after the files in flight, print nothing more, exit 141.
 */
let pipeClosed = false;
/** Aborted with the pipe: every StopSignal's run then starts no new file. */
const pipeClosing = new AbortController();
export function watchStdoutPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      pipeClosed = true;
      pipeClosing.abort();
      return;
    }
    throw e;
  });
}
/**
 * Standard output that is not a terminal is written in blocks: a tree run
 * printed a line per file with a write(2) each (Node writes files and pipes
 * synchronously on Linux), now one per 64 KiB or per turn of the event loop.
 * Anything written to standard error first sends what standard output holds,
 * so the two keep their order for whoever reads both.
 */
let heldOut = '';
let flushQueued = false;
const HOLD_LIMIT = 1 << 16;

export function flushOutput(): void {
  if (!heldOut) return;
  const text = heldOut;
  heldOut = '';
  if (!pipeClosed) process.stdout.write(text);
}

function write(stream: NodeJS.WriteStream, text: string): void {
  if (stream === process.stdout) {
    if (pipeClosed) return;
    if (process.stdout.isTTY) {
      stream.write(text);
      return;
    }
    heldOut += text;
    if (heldOut.length >= HOLD_LIMIT) flushOutput();
    else if (!flushQueued) {
      flushQueued = true;
      setImmediate(() => {
        flushQueued = false;
        flushOutput();
      });
    }
    return;
  }
  flushOutput();
  stream.write(text);
}
/** For commands that print their own lines: standard output, silent once the pipe closed. */
export function writeOut(text: string): void {
  write(process.stdout, text);
}
export function writeErr(text: string): void {
  write(process.stderr, text);
}

/** Signals: the first asks the run to stop after the files in flight; a second one ends it at once. */
export class StopSignal {
  signal: NodeJS.Signals | undefined;
  private readonly stopping = new AbortController();
  private readonly rollingBack = new AbortController();
  /** For the run (TreeOptions.signal): aborted by the first signal, or when standard output's pipe closes. */
  readonly abortSignal: AbortSignal = AbortSignal.any([this.stopping.signal, pipeClosing.signal]);
  /** For the run (TreeOptions.rollback): aborted by the second signal. */
  readonly rollbackSignal: AbortSignal = this.rollingBack.signal;
  private readonly handlers: [NodeJS.Signals, () => void][] = [];
  install(): void {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const h = (): void => {
        if (this.signal) {
          // Stop at once: every file in flight is rolled back (or, if its file is already in place,
          // finished) at its next step, and the run ends by itself with the status of the first signal.
          // Only a run that cannot end (a filesystem that no longer answers) is cut short after a while:
          // its temporaries, named with its pid, are then removed by the next run over their folder.
          if (!this.rollingBack.signal.aborted) {
            this.rollingBack.abort();
            setTimeout(() => {
              flushOutput();
              process.exit(this.exitCode() ?? 130);
            }, 10_000).unref();
          }
          return;
        }
        this.signal = sig;
        this.stopping.abort();
        write(
          process.stderr,
          `\nima-sidecar: ${sig} received: finishing the files in flight, then stopping (again to stop at once)\n`,
        );
      };
      process.on(sig, h);
      this.handlers.push([sig, h]);
    }
  }
  exitCode(): number | undefined {
    if (this.signal === 'SIGINT') return 130;
    if (this.signal === 'SIGTERM') return 143;
    return pipeClosed ? 141 : undefined;
  }
}

export class Reporter {
  readonly counter = new SummaryCounter();
  private readonly started = process.hrtime.bigint();
  private lastProgress = 0;
  private progressShown = false;
  private readonly verb: (r: FileResult) => string;
  private readonly customVerb: boolean;
  constructor(
    private readonly opts: OutputOptions,
    verb?: (r: FileResult) => string,
  ) {
    this.verb = verb ?? ((r) => r.status);
    this.customVerb = verb !== undefined;
  }

  private get showProgress(): boolean {
    return !!this.opts.progress && !this.opts.json && !this.opts.quiet && !!process.stderr.isTTY;
  }

  report(r: FileResult): void {
    this.counter.add(r);
    if (this.opts.json) {
      write(process.stdout, JSON.stringify(resultToJson(r)) + '\n');
    } else {
      this.clearProgress();
      // A custom verb may span lines on purpose (inspect) and may name files (migrate, modsig): each line escaped.
      const verb = this.verb(r);
      const shown = verb.includes('\n') ? verb.split('\n').map(printable).join('\n') : printable(verb);
      const line = `${printable(r.path)}: ${shown}`;
      // A reason may name a file (a sidecar, a destination): escaped like the path, so one result stays one line.
      const reason = r.reason ? `: ${printable(r.reason)}` : '';
      if (r.failed) write(process.stderr, `${line}${reason}\n`);
      else if (!this.opts.quiet) {
        write(process.stdout, `${line}${reason || (this.customVerb ? '' : describeForPeople(r))}\n`);
      }
      // Warnings show as the configuration's do (common.ts warner): unless -q.
      if (!this.opts.quiet)
        for (const w of r.warnings ?? []) write(process.stderr, `${printable(r.path)}: warning: ${printable(w)}\n`);
    }
    if (this.showProgress) this.progress(r.path);
  }

  private progress(current: string): void {
    const now = Date.now();
    if (now - this.lastProgress < 200) return;
    this.lastProgress = now;
    const s = this.counter.summary();
    const secs = Number(process.hrtime.bigint() - this.started) / 1e9;
    const rate = secs > 0 ? Math.round(s.total / secs) : 0;
    const width = Math.max(20, (process.stderr.columns ?? 80) - 40);
    const name = printable(current);
    const shown = name.length > width ? '…' + name.slice(name.length - width + 1) : name;
    write(process.stderr, `\r\x1b[K${s.total} files, ${rate}/s, ${s.failed} failed  ${shown}`);
    this.progressShown = true;
  }

  private clearProgress(): void {
    if (this.progressShown) {
      write(process.stderr, '\r\x1b[K');
      this.progressShown = false;
    }
  }

  async consume(results: AsyncIterable<FileResult>): Promise<void> {
    await forEachResult(results, (r) => this.report(r));
  }

  /** Prints the summary and returns the exit code. */
  finish(stop?: StopSignal, extra: Record<string, unknown> = {}): number {
    this.clearProgress();
    const s = this.counter.summary();
    const secs = Number(process.hrtime.bigint() - this.started) / 1e9;
    const interrupted = stop?.signal;
    // Only orphans and skipped entries, none failed (a failed operand already said what was wrong):
    // no file was worked on.
    const worked = s.total - (s.counts.orphan ?? 0) - (s.counts.skipped ?? 0);
    const nothing = worked === 0 && s.failed === 0 && !interrupted;
    if (this.opts.json) {
      write(
        process.stdout,
        JSON.stringify({
          summary: {
            ...s.counts,
            total: s.total,
            failed: s.failed,
            seconds: Number(secs.toFixed(3)),
            ...(interrupted ? { interrupted } : {}),
            ...extra,
          },
        }) + '\n',
      );
    } else if (!this.opts.quiet && !nothing && (s.total !== 1 || interrupted)) {
      const parts = Object.entries(s.counts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${v} ${k}`);
      // The same breakdown as the JSON summary: a command's own counts (migrate's carriers) too.
      const more = Object.entries(extra).filter(([, v]) => typeof v === 'number' && v > 0);
      const breakdown = more.length ? `; ${more.map(([k, v]) => `${v} ${k}`).join(', ')}` : '';
      write(
        process.stderr,
        `${s.total} file${s.total === 1 ? '' : 's'}: ${parts.join(', ') || 'nothing to do'}` +
          `${breakdown} (${secs.toFixed(2)} s)` +
          `${interrupted ? `; stopped by ${interrupted}` : ''}\n`,
      );
    }
    const fails = nothing && !!this.opts.nothingSelectedFails;
    if (nothing && (fails || !this.opts.quiet))
      write(process.stderr, `ima-sidecar: no files selected${fails ? '; nothing verified' : ''}\n`);
    flushOutput();
    return stop?.exitCode() ?? (s.failed > 0 || fails ? 1 : 0);
  }
}
