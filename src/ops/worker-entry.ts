/** A worker thread of a tree run (see select/worker-pool.ts and ops/parallel.ts). */
import { serveWorker } from '../select/worker-pool.js';
import { buildTask } from './parallel.js';

serveWorker(buildTask);
