/**
 * What one run of an operation (one library call, over one file or a tree)
 * shares between its files: the filesystems it has met, each learnt once per
 * device and forgotten with the run, and the signal that rolls back its writes
 * in flight. Nothing a run learns outlives it, so two runs in one process see
 * the machine as it is when each starts.
 */
import { Filesystems } from './filesystem.js';

export class Run {
  readonly filesystems = new Filesystems();
  /**
   * Once aborted (a second Ctrl-C), every write of this run still in flight is
   * rolled back at its next step, and none starts (see AtomicWriteOptions.rollback).
   */
  constructor(readonly rollback?: AbortSignal) {}
}
