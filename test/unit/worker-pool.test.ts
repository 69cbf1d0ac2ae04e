import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH, WorkerPool } from '../../src/select/worker-pool.js';
import { runOrdered } from '../../src/select/runner.js';

const SCRIPT = { filename: new URL('../helpers/echo-worker.js', import.meta.url) };
interface Out {
  n: number;
  bytes: Buffer;
  thread: number;
}
const revive = (raw: unknown): Out => {
  const r = raw as { n: number; bytes: Uint8Array; thread: number };
  return { ...r, bytes: Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) };
};

test('every item comes back, revived, through the ordered runner, spread over the workers', async () => {
  const pool = new WorkerPool<number, Out>(SCRIPT, 2, {}, revive);
  try {
    const items = Array.from({ length: 10 * BATCH + 3 }, (_, i) => i);
    const out: Out[] = [];
    for await (const r of runOrdered(items, 4 * BATCH, (i) => pool.run(i))) out.push(r);
    assert.deepEqual(
      out.map((r) => r.n),
      items.map((i) => i * 2),
    );
    assert.ok(out.every((r, i) => Buffer.isBuffer(r.bytes) && r.bytes[0] === (i & 0xff)));
    assert.equal(new Set(out.map((r) => r.thread)).size, 2, 'both workers answered');
  } finally {
    await pool.close();
  }
});

test('a partial batch is sent without waiting for more items', async () => {
  const pool = new WorkerPool<number, Out>(SCRIPT, 1, {}, revive);
  try {
    assert.equal((await pool.run(21)).n, 42);
  } finally {
    await pool.close();
  }
});

test('a throw in a worker rejects its batch with the message; other batches are answered', async () => {
  const pool = new WorkerPool<number, Out>(SCRIPT, 1, { failOn: 3 }, revive);
  try {
    const first = Array.from({ length: BATCH }, (_, i) => pool.run(i));
    const second = Array.from({ length: BATCH }, (_, i) => pool.run(BATCH + i));
    const settled = await Promise.allSettled(first);
    assert.ok(settled.every((s) => s.status === 'rejected' && /failing on 3 as asked/.test(String(s.reason))));
    assert.deepEqual(
      (await Promise.all(second)).map((r) => r.n),
      Array.from({ length: BATCH }, (_, i) => (BATCH + i) * 2),
    );
  } finally {
    await pool.close();
  }
});

test('a worker that dies rejects what it had; the pool still closes', async () => {
  const pool = new WorkerPool<number, Out>(SCRIPT, 1, { exitOn: 5 }, revive);
  const results = await Promise.allSettled(Array.from({ length: BATCH }, (_, i) => pool.run(i)));
  assert.ok(results.every((s) => s.status === 'rejected' && /worker thread exited \(code 3\)/.test(String(s.reason))));
  await assert.rejects(pool.run(1), /worker thread exited/, 'no live worker left: later items fail too');
  await pool.close();
});
