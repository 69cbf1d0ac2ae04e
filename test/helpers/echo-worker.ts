// A worker for test/unit/worker-pool.test.ts: doubles numbers, and fails on purpose when told.
import { threadId } from 'node:worker_threads';
import { serveWorker } from '../../src/select/worker-pool.js';

serveWorker(async (task) => {
  const { failOn, exitOn } = task as { failOn?: number; exitOn?: number };
  return async (item) => {
    const n = item as number;
    if (n === failOn) throw new Error(`failing on ${n} as asked`);
    if (n === exitOn) process.exit(3);
    return { n: n * 2, bytes: new Uint8Array([n & 0xff, 1]), thread: threadId };
  };
});
