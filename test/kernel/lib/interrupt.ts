// Cleanup that must also happen when the test process is interrupted (Ctrl-C, or the test
// runner's SIGTERM): stop qemu, remove the work folder. Node's `after` hooks do not run then.
const cleanups = new Set<() => void>();
let installed = false;

function handler(signal: NodeJS.Signals): void {
  for (const c of [...cleanups].reverse()) {
    try {
      c();
    } catch {
      // keep cleaning
    }
  }
  cleanups.clear();
  process.removeListener('SIGINT', handler);
  process.removeListener('SIGTERM', handler);
  process.kill(process.pid, signal);
}

/** Runs CLEANUP if the process gets SIGINT or SIGTERM; returns a function that unregisters it. */
export function onInterrupt(cleanup: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}
