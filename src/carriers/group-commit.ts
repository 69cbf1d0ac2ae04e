/**
 * A flush shared by everyone who waits at the same time (a group commit): a
 * tree run renames many sidecars into one folder, and one fsync of the folder
 * made after they were renamed makes all their names durable.
 *
 * The flush running, and the next, begun only after the running one ended
 * (failed or not) and shared by every caller arriving meanwhile (the running one may have begun
 * before what they did, so it cannot count for them). `flushNow(arg,
 * covered)` gets the argument of the caller that queued it and how many wait
 * for it; `onIdle` runs when a flush ends with none queued after it.
 */
export class GroupCommit<A> {
  private running?: Promise<void>;
  private next?: Promise<void>;
  private nextCovered = 0;

  constructor(
    private readonly flushNow: (arg: A, covered: number) => Promise<void>,
    private readonly onIdle?: () => void,
  ) {}

  /** Settles as a flush begun after this call. */
  join(arg: A): Promise<void> {
    if (!this.running) return this.start(arg, 1);
    if (!this.next) {
      const startQueued = () => {
        const covered = this.nextCovered;
        this.next = undefined;
        this.nextCovered = 0;
        return this.start(arg, covered);
      };
      this.next = this.running.then(startQueued, startQueued);
    }
    this.nextCovered++;
    return this.next;
  }

  private start(arg: A, covered: number): Promise<void> {
    const flush: Promise<void> = this.flushNow(arg, covered).finally(() => {
      // A queued flush replaces this one when it starts; otherwise nobody is waiting.
      if (this.running === flush && !this.next) {
        this.running = undefined;
        this.onIdle?.();
      }
    });
    this.running = flush;
    return flush;
  }
}
