/**
 * Destination names that may be one file. On FAT (and exFAT, NTFS, casefolded
 * ext4) `A.txt` and `a.txt` are the same name, so two source files that differ
 * only by case land on one destination. Each writer checks that its destination
 * is absent (or identical) before it renames its temporary into place; run at
 * the same time, both see it absent and the second rename silently replaces the
 * first file. Writers that create destinations (export --dest, migrate) run one
 * at a time per case-folded path instead, so the second one sees the first one's
 * file and reports a conflict. Paths that differ in more than case never wait.
 */
const tails = new Map<string, Promise<void>>();

function fold(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

/** Runs `work` once every earlier call for the same case-folded path has finished. */
export async function oneAtATimePerName<T>(path: string, work: () => Promise<T>): Promise<T> {
  const key = fold(path);
  const before = tails.get(key) ?? Promise.resolve();
  const result = before.then(work);
  const tail = result.then(
    () => {},
    () => {},
  );
  tails.set(key, tail);
  try {
    return await result;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}
