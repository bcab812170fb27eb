// Sizes and repetitions of every benchmark. The defaults are the reference run (about ten
// minutes on the 2-core machine); BENCH_QUICK=1 makes a quick pass; each value can be set alone.

const quick = process.env.BENCH_QUICK === '1';

function int(name: string, full: number, quickValue: number): number {
  const raw = process.env[name];
  if (raw !== undefined && raw !== '') {
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
    return value;
  }
  return quick ? quickValue : full;
}

function intList(name: string, full: number[], quickValue: number[]): number[] {
  const raw = process.env[name];
  if (raw) return raw.split(',').map((v) => Number(v.trim()));
  return quick ? quickValue : full;
}

export const benchConfig = {
  quick,
  /** Benchmarks to run (all when empty). */
  only: (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  submission: {
    /** Interleaved rounds of (gateway, ssh per command, open connection). */
    latencySamples: int('BENCH_LATENCY_SAMPLES', 30, 8),
    /** Status polling interval while waiting for the Slurm id. */
    statusPollMs: 5,
    campaignJobs: int('BENCH_CAMPAIGN_JOBS', 500, 100),
    campaignClients: 16,
    campaignReps: int('BENCH_CAMPAIGN_REPS', 3, 1),
  },
  polling: {
    sizes: intList('BENCH_POLL_SIZES', [10, 100, 1000], [10, 100]),
    reps: int('BENCH_POLL_REPS', 7, 3),
  },
  status: {
    connections: 64,
    seconds: int('BENCH_STATUS_SECONDS', 5, 2),
    reps: int('BENCH_STATUS_REPS', 3, 1),
  },
  upload: {
    mib: int('BENCH_UPLOAD_MIB', 2048, 256),
    // Seven: single 2 GiB runs on this VM range over a factor of two for every variant alike, and
    // with five the ratio of medians moved from 0.44 to 0.59 between runs of the same code.
    reps: int('BENCH_UPLOAD_REPS', 7, 1),
  },
  output: {
    mib: int('BENCH_OUTPUT_MIB', 1024, 64),
    reps: int('BENCH_OUTPUT_REPS', 3, 1),
  },
  freshness: {
    jobs: int('BENCH_FRESHNESS_JOBS', 20, 4),
    /** Jobs start this far apart so their ends fall at different points of the 2 s poll cycle. */
    staggerMs: 1_370,
  },
};
