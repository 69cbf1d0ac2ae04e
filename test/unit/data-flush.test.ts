// The scheduling of shared flushes (src/carriers/data-flush.ts), with flush calls we finish by hand: every
// write resolves only after a flush that began after the write arrived (its own, or a shared one), writes arriving together share one
// flush, a failed shared flush leaves each write to its own, and a busy filesystem goes back to one flush per file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilesystemFlushes } from '../../src/carriers/data-flush.js';

interface Call {
  kind: 'file' | 'filesystem';
  fd: number;
  /** Writes that had arrived when this flush began (by arrival number). */
  startedAfter: number;
  settle(error?: Error): void;
}

/** Flush calls that stay pending until settled, and a clock the test moves. */
function harness() {
  const calls: Call[] = [];
  let arrived = 0;
  let clock = 0;
  const call = (kind: Call['kind']) => (fd: number) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ kind, fd, startedAfter: arrived, settle: (e) => (e ? reject(e) : resolve()) });
    });
  const flushes = new FilesystemFlushes(call('filesystem'), () => clock);
  const own = call('file');
  const done: (number | Error)[] = [];
  /** Starts the write numbered `n` (1-based arrival order); what it ends with lands in done[n]. */
  const write = (fd: number) => {
    const n = ++arrived;
    const p = flushes.flush(fd, () => own(fd)).then(
      () => void (done[n] = n),
      (e: Error) => void (done[n] = e),
    );
    return { n, p };
  };
  const tick = () => new Promise((r) => setImmediate(r));
  /** The first write, flushed alone, its flush taking `ms`. */
  const firstWriteTaking = async (ms: number) => {
    write(1);
    await tick();
    clock += ms;
    calls[0]!.settle();
  };
  return { calls, flushes, done, write, tick, firstWriteTaking, advance: (ms: number) => (clock += ms) };
}

test('the first write is flushed alone; writes arriving while a shared flush runs share the one after it', async () => {
  const h = harness();
  const first = h.write(10);
  await h.tick();
  assert.deepEqual(h.calls.map((c) => c.kind), ['file']);
  const second = h.write(11);
  await h.tick();
  assert.deepEqual(h.calls.map((c) => [c.kind, c.fd]), [['file', 10], ['filesystem', 11]], 'the second write starts a shared flush at once');
  const waiting = [12, 13, 14].map((fd) => h.write(fd));
  await h.tick();
  assert.equal(h.calls.length, 2, 'writes arriving during a shared flush start nothing yet');
  h.calls[0]!.settle();
  await first.p;
  assert.equal(h.done[1], 1);
  h.calls[1]!.settle();
  await second.p;
  await h.tick();
  assert.equal(h.calls.length, 3, 'one flush for the three that waited');
  assert.deepEqual([h.calls[2]!.kind, h.calls[2]!.fd], ['filesystem', 12]);
  assert.equal(h.done[3], undefined, 'not resolved by the flush that was already running when it arrived');
  h.calls[2]!.settle();
  await Promise.all(waiting.map((w) => w.p));
  assert.deepEqual(h.done.slice(1), [1, 2, 3, 4, 5]);
  assert.deepEqual(h.flushes.stats, { shared: 2, covered: 4, solo: 1 });
});

test('random arrivals and completions: each write resolves only after a flush that began after it arrived', async () => {
  for (let seed = 1; seed <= 40; seed++) {
    let s = seed;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const h = harness();
    /** For each write: the flushes that had finished when it resolved. */
    const writes: { n: number; fd: number; p: Promise<void> }[] = [];
    const resolvedWith = new Map<number, Call[]>();
    const settled = new Set<Call>();
    for (let step = 0; step < 60; step++) {
      if (rnd() < 0.5) {
        const w = { ...h.write(100 + step), fd: 100 + step };
        writes.push(w);
        void w.p.then(() => resolvedWith.set(w.n, h.calls.filter((c) => settled.has(c))));
      } else {
        const open = h.calls.filter((c) => !settled.has(c));
        if (open.length) {
          const c = open[Math.floor(rnd() * open.length)]!;
          settled.add(c);
          c.settle();
        }
      }
      await h.tick();
    }
    // Finish everything still pending.
    for (let guard = 0; guard < 200; guard++) {
      const open = h.calls.filter((c) => !settled.has(c));
      if (!open.length) break;
      for (const c of open) {
        settled.add(c);
        c.settle();
      }
      await h.tick();
    }
    await Promise.all(writes.map((w) => w.p));
    for (const w of writes) {
      assert.equal(h.done[w.n], w.n, `seed ${seed}: write ${w.n} resolved`);
      const finished = resolvedWith.get(w.n)!;
      assert.ok(
        finished.some((c) => c.startedAfter >= w.n && (c.kind === 'filesystem' || c.fd === w.fd)),
        `seed ${seed}: write ${w.n} resolved before any flush that began after it arrived`,
      );
    }
  }
});

test('a failed shared flush: each of its writes is flushed alone, and fails only with its own error', async () => {
  const h = harness();
  await h.firstWriteTaking(1);
  const a = h.write(2);
  const b = h.write(3);
  await h.tick();
  // The shared flush started by fd 2 is running; fd 3 waits for the next one.
  assert.deepEqual(h.calls.map((c) => [c.kind, c.fd]), [['file', 1], ['filesystem', 2]]);
  h.calls[1]!.settle(new Error('EIO from someone else'));
  await h.tick();
  assert.deepEqual(h.calls.slice(2).map((c) => [c.kind, c.fd]), [['file', 2], ['filesystem', 3]]);
  h.calls[2]!.settle();
  h.calls[3]!.settle(new Error('EIO'));
  await h.tick();
  assert.deepEqual(h.calls.slice(4).map((c) => [c.kind, c.fd]), [['file', 3]]);
  h.calls[4]!.settle(new Error('EIO: fd 3'));
  await Promise.all([a.p, b.p]);
  assert.equal(h.done[2], 2);
  assert.match(String(h.done[3]), /EIO: fd 3/);
});

test('a shared flush slower than its writes one by one, and over a second: the rest go back to a flush each', async () => {
  const h = harness();
  await h.firstWriteTaking(5);
  h.write(2);
  await h.tick();
  h.advance(900); // under a second: still shared
  h.calls[1]!.settle();
  await h.tick();
  h.write(3);
  await h.tick();
  assert.equal(h.calls[2]!.kind, 'filesystem');
  h.advance(1500); // one write, 1.5 s: busy
  h.calls[2]!.settle();
  await h.tick();
  h.write(4);
  await h.tick();
  assert.equal(h.calls[3]!.kind, 'file');
  h.calls[3]!.settle();
});

test('a shared flush over a second that covered many writes is still cheaper than one each: it stays shared', async () => {
  const h = harness();
  await h.firstWriteTaking(20);
  h.write(2);
  for (let fd = 3; fd < 200; fd++) h.write(fd);
  await h.tick();
  h.advance(10);
  h.calls[1]!.settle();
  await h.tick();
  assert.equal(h.calls[2]!.kind, 'filesystem', 'the 197 writes that waited share one flush');
  h.advance(1500); // 197 writes x 20 ms alone = 3.9 s
  h.calls[2]!.settle();
  await h.tick();
  h.write(300);
  await h.tick();
  assert.equal(h.calls.at(-1)!.kind, 'filesystem');
  h.calls.at(-1)!.settle();
});
