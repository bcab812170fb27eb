// Every benchmark registers what it creates (child processes, Slurm jobs, remote and local
// directories) here as it creates it, so everything is removed even when a benchmark fails or
// the run is interrupted.

type Task = { label: string; run: () => Promise<void> | void };

export class Cleanup {
  private readonly tasks: Task[] = [];

  /** Register an undo step; steps run last-registered first. */
  defer(label: string, run: () => Promise<void> | void): void {
    this.tasks.push({ label, run });
  }

  async runAll(): Promise<void> {
    while (this.tasks.length > 0) {
      const task = this.tasks.pop()!;
      try {
        await task.run();
      } catch (err) {
        console.error(`[bench] clean-up step '${task.label}' failed: ${(err as Error).message}`);
      }
    }
  }
}

const active = new Set<Cleanup>();

/** Run `body` with a clean-up stack that is emptied when it ends, however it ends. */
export async function withCleanup<T>(body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  active.add(cleanup);
  try {
    return await body(cleanup);
  } finally {
    await cleanup.runAll();
    active.delete(cleanup);
  }
}

/** For an interrupted run (SIGINT/SIGTERM): undo everything still registered. */
export async function cleanupEverything(): Promise<void> {
  for (const cleanup of [...active].reverse()) await cleanup.runAll();
}
