/**
 * The operations a worker thread can run, by name, and how each is rebuilt
 * from the options it was sent. Only operations that write no temporary
 * files run in workers: a signal's clean-up of temporaries is the main
 * thread's (carriers/atomic-write.ts).
 */
import { holdDirectory } from '../carriers/fs-path.js';
import { importOne, ImportOptions } from './import.js';
import { FileResult } from './result.js';
import { statusOne, StatusOptions } from './status.js';
import { verifyOne, VerifyOptions } from './verify.js';
import { optionsFromWire, WireOptions, WireTarget } from './wire.js';

export type ParallelTask =
  | { readonly op: 'verify'; readonly options: WireOptions<VerifyOptions> }
  | { readonly op: 'import'; readonly options: WireOptions<ImportOptions> }
  | { readonly op: 'status'; readonly options: WireOptions<StatusOptions> };

async function perFile(task: ParallelTask): Promise<(t: WireTarget) => FileResult | Promise<FileResult>> {
  switch (task.op) {
    case 'verify': {
      const opts = await optionsFromWire<VerifyOptions>(task.options);
      return (t) => verifyOne(t.path, opts);
    }
    case 'import': {
      const opts = await optionsFromWire<ImportOptions>(task.options);
      return (t) => importOne(t.path, opts, t.rel === '');
    }
    case 'status': {
      const opts = await optionsFromWire<StatusOptions>(task.options);
      return (t) => statusOne(t.path, opts);
    }
  }
}

/** For serveWorker: the per-item function of a task, each item reached through the directory the main thread holds. */
export async function buildTask(task: unknown): Promise<(item: unknown) => Promise<unknown>> {
  const run = await perFile(task as ParallelTask);
  return async (item) => {
    const t = item as WireTarget;
    const release = t.held ? holdDirectory(t.held.key, t.held.fd) : undefined;
    try {
      return await run(t);
    } finally {
      release?.();
    }
  };
}
