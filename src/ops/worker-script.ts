/**
 * Which module worker threads start from. Compiled as dist/src, it is
 * ops/worker-entry.js beside this file; the bundled command line sets its
 * own (bin/worker.js, which loads the bundle), since a bundle has no files
 * beside it to point at.
 */
import type { WorkerScript } from '../select/worker-pool.js';

let configured: WorkerScript | undefined;

export function setWorkerScript(script: WorkerScript | undefined): void {
  configured = script;
}

export function workerScript(): WorkerScript {
  return configured ?? { filename: new URL('./worker-entry.js', import.meta.url) };
}
