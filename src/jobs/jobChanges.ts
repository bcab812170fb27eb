// Tells waiting status requests (GET /job/<id>/status?wait=…) that a job was just written by this
// process. JobRepository calls notify() after every commit that touches a job; a listener only
// learns "look again", never what changed: the waiter re-reads the status and decides itself.
//
// In-process only. With several gateway instances on one PostgreSQL database another instance's
// writes are not heard here, which is why waiters also look again on a timer.

export type ChangeListener = () => void;

export class JobChanges {
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private count = 0;
  private woken = false;

  /** Listen for writes to one job; the returned function stops listening (calling it twice is harmless). */
  subscribe(id: string, listener: ChangeListener): () => void {
    let forJob = this.listeners.get(id);
    if (!forJob) this.listeners.set(id, (forJob = new Set()));
    // The same function subscribed twice would be counted twice but stored once.
    const entry: ChangeListener = () => listener();
    forJob.add(entry);
    this.count += 1;
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.count -= 1;
      forJob.delete(entry);
      if (forJob.size === 0 && this.listeners.get(id) === forJob) this.listeners.delete(id);
    };
  }

  /** A job was written (after the commit). */
  notify(id: string): void {
    const forJob = this.listeners.get(id);
    if (!forJob) return;
    // A copy: a listener may unsubscribe (or subscribe again) while we go through them.
    for (const listener of [...forJob]) listener();
  }

  /**
   * Shutdown: every listener is called once, and from now on `shuttingDown` is true so that waiters
   * (including ones that start later, on a keep-alive connection) answer at once.
   */
  wakeAll(): void {
    this.woken = true;
    for (const forJob of [...this.listeners.values()]) {
      for (const listener of [...forJob]) listener();
    }
  }

  get shuttingDown(): boolean {
    return this.woken;
  }

  /** Listeners currently subscribed, over all jobs. */
  get size(): number {
    return this.count;
  }

  /** Jobs with at least one listener (what the map holds: 0 once every waiter is gone). */
  get jobsWatched(): number {
    return this.listeners.size;
  }
}
