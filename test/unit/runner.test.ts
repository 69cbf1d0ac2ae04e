import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOrdered, runOrderedBatches } from '../../src/select/runner.js';
import { processTree, resultBatches } from '../../src/ops/tree.js';
import { tempDir } from '../helpers/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('results come out in input order whatever finishes first', async () => {
  const items = Array.from({ length: 40 }, (_, i) => i);
  const out: number[] = [];
  for await (const r of runOrdered(items, 8, async (i) => {
    await sleep((i * 7) % 5);
    return i * 2;
  }))
    out.push(r);
  assert.deepEqual(
    out,
    items.map((i) => i * 2),
  );
});

test('never more than `jobs` in flight', async () => {
  let inFlight = 0;
  let peak = 0;
  const items = Array.from({ length: 30 }, (_, i) => i);
  for await (const _ of runOrdered(items, 3, async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await sleep(2);
    inFlight--;
  }))
    void _;
  assert.equal(peak, 3);
});

test('an aborted signal: no new work starts, work in flight finishes and is yielded', async () => {
  let started = 0;
  const stop = new AbortController();
  const out: number[] = [];
  for await (const r of runOrdered(
    Array.from({ length: 100 }, (_, i) => i),
    4,
    async (i) => {
      started++;
      await sleep(1);
      return i;
    },
    stop.signal,
  )) {
    out.push(r);
    if (out.length === 5) stop.abort();
  }
  assert.ok(started < 20, `started ${started}`);
  assert.deepEqual(
    out,
    Array.from({ length: out.length }, (_, i) => i),
  );
  assert.equal(out.length, started, 'every started item was yielded');
});

async function collect<R>(results: AsyncIterable<R>): Promise<R[]> {
  const out: R[] = [];
  for await (const r of results) out.push(r);
  return out;
}

test('a signal aborted before the run: nothing starts, and a generator source is never read', async () => {
  let read = 0;
  let started = 0;
  async function* source() {
    for (let i = 0; i < 10; i++) {
      read++;
      yield i;
    }
  }
  const signal = AbortSignal.abort();
  const work = (i: number): number => {
    started++;
    return i;
  };
  assert.deepEqual(await collect(runOrdered(source(), 4, work, signal)), []);
  assert.deepEqual(await collect(runOrdered([1, 2, 3], 4, work, signal)), []);
  assert.equal(read, 0);
  assert.equal(started, 0);
});

test('aborted while the source finds the next item: that item does not start, the source is closed', async () => {
  const stop = new AbortController();
  const started: number[] = [];
  let closed = false;
  async function* source() {
    try {
      for (let i = 0; i < 10; i++) {
        if (i === 3) stop.abort();
        yield i;
      }
    } finally {
      closed = true;
    }
  }
  const out = await collect(
    runOrdered(
      source(),
      8,
      (i) => {
        started.push(i);
        return i;
      },
      stop.signal,
    ),
  );
  assert.deepEqual(started, [0, 1, 2]);
  assert.deepEqual(out, [0, 1, 2]);
  assert.equal(closed, true);
});

test('an async iterable source is consumed lazily', async () => {
  let produced = 0;
  async function* source() {
    for (let i = 0; i < 1000; i++) {
      produced++;
      yield i;
    }
  }
  const gen = runOrdered(source(), 2, async (i) => i);
  const first = await gen.next();
  assert.equal(first.value, 0);
  assert.ok(produced <= 3, `produced ${produced} before the first result`);
  await gen.return(undefined);
});

test('a rejected item rejects in its place, not earlier', async () => {
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const r of runOrdered([0, 1, 2, 3], 4, async (i) => {
      if (i === 2) throw new Error('boom');
      await sleep(5);
      return i;
    }))
      seen.push(r);
  }, /boom/);
  assert.deepEqual(seen, [0, 1]);
});

test(
  'plain values and a plain iterable: same order, no ' + 'promise needed, and a thrown item fails in its place',
  async () => {
    const out: number[] = [];
    await assert.rejects(async () => {
      for await (const r of runOrdered(
        Array.from({ length: 50 }, (_, i) => i),
        8,
        (i) => {
          if (i === 30) throw new Error('thrown at 30');
          return i % 3 === 0 ? Promise.resolve(i) : i; // mixed, as an operation that is sometimes asynchronous
        },
      ))
        out.push(r);
    }, /thrown at 30/);
    assert.deepEqual(
      out,
      Array.from({ length: 30 }, (_, i) => i),
    );
  },
);

test('all-synchronous work still gives the event loop its turns (a signal, a timer) during the run', async () => {
  let timerFiredAt: number | undefined;
  let index = 0;
  setTimeout(() => (timerFiredAt = index), 0);
  const spin = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  for await (const r of runOrdered(
    Array.from({ length: 400 }, (_, i) => i),
    16,
    (i) => {
      spin(0.5); // 400 x 0.5 ms: ten times the longest stretch the runner keeps the loop waiting
      return i;
    },
  ))
    index = r;
  assert.ok(timerFiredAt !== undefined && timerFiredAt < 300, `the timer ran after item ${timerFiredAt} of 400`);
});

test(
  'batches: the results ready at the head of the window, in order; ' +
    'a pending one ends a batch; never more than `jobs` at once',
  async () => {
    // Items divisible by 5 answer later (a promise); the rest answer at once.
    const items = Array.from({ length: 23 }, (_, i) => i);
    const batches: number[][] = [];
    for await (const b of runOrderedBatches(items, 4, (i) => (i % 5 === 0 ? sleep(2).then(() => i) : i)))
      batches.push(b);
    assert.deepEqual(batches.flat(), items, 'every result once, in input order');
    for (const b of batches) {
      assert.ok(b.length >= 1 && b.length <= 4, `a batch holds 1..jobs results: ${b}`);
      // A result that had to be awaited only ever opens a batch: the batch ends before the next pending one.
      b.slice(1).forEach((i) => assert.notEqual(i % 5, 0, `pending item ${i} inside batch ${b}`));
    }
    assert.ok(
      batches.some((b) => b.length > 1),
      'plain results ready together come together',
    );
  },
);

test('batches: a thrown item rejects in its place, after the batches before it', async () => {
  const seen: number[][] = [];
  await assert.rejects(async () => {
    for await (const b of runOrderedBatches([0, 1, 2, 3, 4, 5], 2, (i) => {
      if (i === 3) throw new Error('three');
      return i;
    }))
      seen.push(b);
  }, /three/);
  assert.deepEqual(seen.flat(), [0, 1, 2]);
});

test(
  'a tree run read one by one (the library) and a batch ' + 'at a time (the command line) gives the same results',
  async (t) => {
    const dir = await tempDir(t);
    for (let i = 0; i < 150; i++) writeFileSync(join(dir, `f${String(i).padStart(3, '0')}`), String(i));
    const run = () =>
      processTree([dir], { select: { recursive: true, suffix: '.sig' }, jobs: 8 }, (sel) =>
        sel.path.endsWith('7')
          ? sleep(1).then(() => ({ path: sel.path, status: 'later', failed: false }))
          : { path: sel.path, status: 'now', failed: false },
      );
    const oneByOne: string[] = [];
    for await (const r of run()) oneByOne.push(`${r.path} ${r.status}`);
    const batched: string[] = [];
    let batches = 0;
    for await (const b of resultBatches(run())) {
      batches++;
      for (const r of b) batched.push(`${r.path} ${r.status}`);
    }
    assert.equal(oneByOne.length, 150);
    assert.deepEqual(batched, oneByOne);
    assert.ok(batches < 150, `${batches} batches for 150 results`);
  },
);
