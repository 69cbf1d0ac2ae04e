// A worker thread of a tree run, when the command line runs from its bundle
// (bin/ima-sidecar points the worker pool here): load the same bundle, with
// its code cache, and serve the task (src/select/worker-pool.ts).
import { workerData } from 'node:worker_threads';
import { loadBundle } from './load-bundle.js';

loadBundle(workerData.script.bundle).startWorker();
