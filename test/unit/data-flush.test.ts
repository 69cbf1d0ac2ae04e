// The scheduling of shared flushes (src/carriers/data-flush.ts), with flush calls we finish by hand: every
// write resolves only after a flush that began after the write arrived (its own, or a shared one), a write alone gets its own, writes
// arriving together share one flush, a failed shared flush leaves each write to its own, and a busy filesystem goes back to one
// flush per file.
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
    const p = flushes
      .flush(fd, () => own(fd))
      .then(
        () => void (done[n] = n),
        (e: Error) => void (done[n] = e),
      );
    return { n, p };
  };
  const tick = () => new Promise((r) => setImmediate(r));
  return { calls, flushes, done, write, tick, advance: (ms: number) => (clock += ms) };
}

test('the first write is flushed alone; writes arriving while a shared flush runs share the one after it', async () => {
  const h = harness();
  const first = h.write(10);
  await h.tick();
  assert.deepEqual(
    h.calls.map((c) => c.kind),
    ['file'],
  );
  const second = h.write(11);
  await h.tick();
  assert.deepEqual(
    h.calls.map((c) => [c.kind, c.fd]),
    [
      ['file', 10],
      ['filesystem', 11],
    ],
    'the second write starts a shared flush at once',
  );
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
    const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const h = harness();
    /** For each write: the flushes that had finished when it resolved. */
    const writes: { n: number; fd: number; p: Promise<void> }[] = [];
    const resolvedWith = new Map<number, Call[]>();
    const settled = new Set<Call>();
    for (let step = 0; step < 60; step++) {
      if (rnd() < 0.5) {
        const w = { ...h.write(100 + step), fd: 100 + step };
        writes.push(w);
        void w.p.then(() =>
          resolvedWith.set(
            w.n,
            h.calls.filter((c) => settled.has(c)),
          ),
        );
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
  h.write(1); // alone: its own flush, left pending so that the others are not alone
  const a = h.write(2);
  const b = h.write(3);
  await h.tick();
  // The shared flush started by fd 2 is running; fd 3 waits for the next one.
  assert.deepEqual(
    h.calls.map((c) => [c.kind, c.fd]),
    [
      ['file', 1],
      ['filesystem', 2],
    ],
  );
  h.calls[1]!.settle(new Error('EIO from someone else'));
  await h.tick();
  const sorted = (cs: Call[]) => cs.map((c) => `${c.kind} ${c.fd}`).sort();
  assert.deepEqual(sorted(h.calls.slice(2)), ['file 2', 'filesystem 3']);
  for (const c of h.calls.slice(2)) c.settle(c.kind === 'filesystem' ? new Error('EIO') : undefined);
  await h.tick();
  assert.deepEqual(sorted(h.calls.slice(4)), ['file 3']);
  h.calls[4]!.settle(new Error('EIO: fd 3'));
  h.calls[0]!.settle();
  await Promise.all([a.p, b.p]);
  assert.equal(h.done[2], 2);
  assert.match(String(h.done[3]), /EIO: fd 3/);
});

test('a write alone gets its own flush, also after shared ones', async () => {
  const h = harness();
  h.write(1);
  h.write(2);
  await h.tick();
  for (const c of h.calls) c.settle();
  await h.tick();
  h.write(3);
  await h.tick();
  assert.deepEqual(
    h.calls.map((c) => c.kind),
    ['file', 'filesystem', 'file'],
  );
  h.calls[2]!.settle();
});

test('a shared flush slower than its writes one by one, and over a second: the rest go back to a flush each', async () => {
  const h = harness();
  h.write(1); // its own flush: timed, 5 ms
  h.write(2); // shared flush 1
  await h.tick();
  h.advance(5);
  h.calls[0]!.settle();
  await h.tick();
  h.write(3);
  await h.tick();
  h.advance(900); // shared flush 1: under a second, still shared
  h.calls[1]!.settle();
  await h.tick();
  assert.equal(h.calls[2]!.kind, 'filesystem');
  h.write(4);
  await h.tick();
  h.advance(1500); // shared flush 2: one write, 1.5 s: busy
  h.calls[2]!.settle();
  await h.tick();
  assert.equal(h.calls[3]!.kind, 'filesystem', 'write 4 had already joined the next shared flush');
  h.write(5); // not alone (write 4 waits), but the filesystem is busy
  await h.tick();
  assert.equal(h.calls[4]!.kind, 'file');
  for (const c of h.calls.slice(3)) c.settle();
});

test('a shared flush over a second that covered many writes is still cheaper than one each: it stays shared', async () => {
  const h = harness();
  h.write(1); // its own flush: 20 ms
  h.write(2);
  await h.tick();
  h.advance(20);
  h.calls[0]!.settle();
  for (let fd = 3; fd < 200; fd++) h.write(fd);
  await h.tick();
  h.advance(10);
  h.calls[1]!.settle();
  await h.tick();
  assert.equal(h.calls[2]!.kind, 'filesystem', 'the 197 writes that waited share one flush');
  h.write(250);
  h.advance(1500); // 197 writes x 20 ms alone = 3.9 s
  h.calls[2]!.settle();
  await h.tick();
  h.write(300);
  h.calls[3]!.settle();
  await h.tick();
  assert.deepEqual(
    h.calls.slice(3).map((c) => [c.kind, c.fd]),
    [
      ['filesystem', 250],
      ['filesystem', 300],
    ],
  );
  h.calls[4]!.settle();
});
