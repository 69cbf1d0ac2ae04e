/**
 * Running one per-file function in worker threads, so that a tree run uses
 * every core. The main thread keeps the walk, the order of results and the
 * output; workers get the targets in batches (a message per file cost more
 * than a small file's work) and send back plain results.
 *
 * Why threads and not the thread pool: the per-file work of verify, import
 * and status is many small system calls and some JavaScript, each far
 * cheaper than a thread-pool round trip, so it runs synchronously; one
 * thread then does it all and the other cores idle (bench/bench.js).
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';

/** node:worker_threads, loaded when a pool starts or a worker serves: most runs start none (its load was ~4 ms of every start). */
function workerThreads(): typeof import('node:worker_threads') {
  return createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
}

/** Where a worker starts: a module that calls serveWorker (see ops/parallel.ts). */
export interface WorkerScript {
  readonly filename: string | URL;
  /** Handed to the worker as workerData.script. */
  readonly data?: unknown;
}

/** What a worker is told at start: its script's data and the task (op and options) it serves. */
export interface WorkerStart {
  readonly script?: unknown;
  readonly task: unknown;
}

interface BatchMessage {
  readonly batch: number;
  readonly items: readonly unknown[];
}
type ReplyMessage =
  { readonly batch: number; readonly results: readonly unknown[] } | { readonly batch: number; readonly error: string };

interface Waiter<O> {
  resolve(value: O): void;
  reject(error: Error): void;
}

interface Member<O> {
  readonly worker: Worker;
  /** Items sent and not yet answered. */
  load: number;
  readonly batches: Map<number, Waiter<O>[]>;
  dead?: Error;
}

/** Files per message: large enough that messaging is a small part of a batch, small enough to keep every worker busy. */
export const BATCH = 16;

export class WorkerPool<I, O> {
  private readonly members: Member<O>[] = [];
  private pending: { items: I[]; waiters: Waiter<O>[] } = { items: [], waiters: [] };
  private flushScheduled = false;
  private nextBatch = 0;
  private closed = false;

  constructor(
    script: WorkerScript,
    size: number,
    task: unknown,
    private readonly revive: (raw: unknown) => O,
  ) {
    for (let i = 0; i < size; i++) {
      // A small young generation: each worker's default one (16 MiB and more) took `status -r` over
      // 100,000 files from 117 to 207 MiB peak RSS; 4 MiB gives 159 MiB at the same speed (bench/bench.js).
      const worker = new (workerThreads().Worker)(script.filename, {
        workerData: { script: script.data, task } satisfies WorkerStart,
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      });
      const member: Member<O> = { worker, load: 0, batches: new Map() };
      worker.on('message', (m: ReplyMessage) => this.answer(member, m));
      worker.on('error', (e) => this.fail(member, e instanceof Error ? e : new Error(String(e))));
      worker.on('exit', (code) => {
        if (!this.closed || member.batches.size) this.fail(member, new Error(`worker thread exited (code ${code})`));
      });
      this.members.push(member);
    }
  }

  /** Queues one item; its result (or the worker's failure) settles the promise. */
  run(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.items.push(item);
      this.pending.waiters.push({ resolve, reject });
      if (this.pending.items.length >= BATCH) this.flush();
      else if (!this.flushScheduled) {
        // A partial batch goes once the current turn has queued what it can.
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const { items, waiters } = this.pending;
    if (items.length === 0) return;
    this.pending = { items: [], waiters: [] };
    const alive = this.members.filter((m) => !m.dead);
    if (alive.length === 0) {
      const error = this.members[0]?.dead ?? new Error('no worker thread');
      for (const w of waiters) w.reject(error);
      return;
    }
    const member = alive.reduce((a, b) => (b.load < a.load ? b : a));
    const batch = this.nextBatch++;
    member.batches.set(batch, waiters);
    member.load += items.length;
    member.worker.postMessage({ batch, items } satisfies BatchMessage);
  }

  private answer(member: Member<O>, m: ReplyMessage): void {
    const waiters = member.batches.get(m.batch);
    if (!waiters) return;
    member.batches.delete(m.batch);
    member.load -= waiters.length;
    if ('error' in m) {
      const error = new Error(m.error);
      for (const w of waiters) w.reject(error);
      return;
    }
    waiters.forEach((w, i) => {
      try {
        w.resolve(this.revive(m.results[i]));
      } catch (e) {
        w.reject(e as Error);
      }
    });
  }

  private fail(member: Member<O>, error: Error): void {
    member.dead ??= error;
    for (const waiters of member.batches.values()) for (const w of waiters) w.reject(error);
    member.batches.clear();
    member.load = 0;
  }

  /** Stops the workers (after the results the caller awaited). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.members.map((m) => m.worker.terminate().catch(() => 0)));
  }
}

/**
 * The worker side: builds the per-item function from the task it was started
 * with, then answers each batch in order. An item's own failures are part of
 * its result; a throw here is a bug, reported for the whole batch.
 */
export function serveWorker(build: (task: unknown) => Promise<(item: unknown) => Promise<unknown>>): void {
  const { parentPort: port, workerData } = workerThreads();
  if (!port) throw new Error('serveWorker runs in a worker thread');
  const start = workerData as WorkerStart;
  const ready = build(start.task);
  port.on('message', (m: BatchMessage) => {
    void (async () => {
      try {
        const perItem = await ready;
        const results: unknown[] = [];
        for (const item of m.items) results.push(await perItem(item));
        port.postMessage({ batch: m.batch, results } satisfies ReplyMessage);
      } catch (e) {
        port.postMessage({
          batch: m.batch,
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
        } satisfies ReplyMessage);
      }
    })();
  });
}
