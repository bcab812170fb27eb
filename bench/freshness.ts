// 6. Freshness: the delay between a job's end in Slurm and the gateway reporting its final
// state, with the gateway's default poll schedule. As a floor, the same delay for a client that
// asks sacct itself every 100 ms (the earliest accounting shows the end).
import { ApiClient, FINAL_STATES } from './lib/api.ts';
import { withCleanup } from './lib/cleanup.ts';
import { loadConfig } from '../src/config.ts';
import { openBenchConnection, BENCH_REMOTE_ROOT, CONNECTION_FILE, OpenConnection, cancelJobs } from './lib/cluster.ts';
import { tinyFits } from './lib/fits.ts';
import { startGatewayProcess } from './lib/gateway.ts';
import { figure, type Benchmark, type BenchmarkBody } from './lib/report.ts';
import { fmt, sleep, summarize } from './lib/stats.ts';
import { benchConfig } from './config.ts';

const settings = benchConfig.freshness;
const STATUS_EVERY_MS = 50;
const SACCT_EVERY_MS = 100;
const SLURM_FINAL = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)/;

// The system's wall clock, read when each moment happens, like Slurm's End it is compared with.
// Not performance.timeOrigin + performance.now(): that is fixed at the process's start, and a
// run at 18:12 UTC saw the system clock move ~11 s away from it in 20 minutes (every delay came
// out negative).
const wallNow = () => Date.now();

interface Watched {
  pid: string;
  /** The gateway's job id (its job directory on the cluster is named after it). */
  jobId: string;
  /** The job's last file write on the cluster, epoch seconds with ns resolution. */
  lastWrite?: number;
  /** Slurm End, epoch seconds (1 s resolution), from sacct. */
  end?: number;
  sacctSeenAt?: number;
  gatewaySeenAt?: number;
  gatewayState?: string;
  gatewayEnd?: string | null;
}

/** Every SACCT_EVERY_MS, one sacct for the jobs whose end it has not shown yet. */
async function watchAccounting(open: OpenConnection, watched: Map<string, Watched>, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const pending = [...watched.values()].filter((w) => w.sacctSeenAt === undefined);
    // A failed sacct (a daemon restarted by another test) is simply asked again next time.
    const out = pending.length === 0 ? undefined : await open.exec(`SLURM_TIME_FORMAT=%s sacct -X --noheader --parsable2 --format=JobIDRaw,State,End -j ${pending.map((w) => w.pid).join(',')}`)
      .catch(() => undefined);
    const at = wallNow();
    for (const line of out?.stdout.split('\n') ?? []) {
      const [id, state, end] = line.trim().split('|');
      const w = id ? watched.get(id) : undefined;
      if (w && w.sacctSeenAt === undefined && state && SLURM_FINAL.test(state) && /^\d+$/.test(end ?? '')) {
        w.sacctSeenAt = at;
        w.end = Number(end);
      }
    }
    await sleep(SACCT_EVERY_MS);
  }
}

/** Each job's newest file modification time in its job directory on the cluster. */
async function readLastWrites(open: OpenConnection, jobs: Watched[]): Promise<void> {
  for (const w of jobs) {
    const out = await open.exec(`find ${BENCH_REMOTE_ROOT}/jobs/${w.jobId} -maxdepth 1 -type f -exec stat -c %.9Y {} +`).catch(() => undefined);
    const times = (out?.stdout ?? '').split('\n').map(Number).filter((t) => t > 0);
    if (times.length > 0) w.lastWrite = Math.max(...times);
  }
}

async function run(): Promise<BenchmarkBody> {
  return withCleanup(async (cleanup) => {
    const open = await openBenchConnection(cleanup);
    const watched = new Map<string, Watched>();
    cleanup.defer('cancel the jobs', () => cancelJobs(watched.keys()));
    const gateway = await startGatewayProcess(cleanup); // default settings: the stand-in sfinder, poll every 2 s
    const defaultSchedule = loadConfig({ LOCAL_CLUSTER_CONNECTION: CONNECTION_FILE }).poll.schedule;
    const api = new ApiClient(gateway.base);
    const fileId = await api.upload(tinyFits(), 'bench-tiny.fits');

    let finished = false;
    const accounting = watchAccounting(open, watched, () => finished);
    const followJob = async (index: number) => {
      await sleep(index * settings.staggerMs);
      const jobId = await api.submit(fileId, 'bench-freshness');
      const { status: submitted } = await api.waitForStatus(jobId, (s) => s.pid !== null || FINAL_STATES.has(s.state), STATUS_EVERY_MS);
      if (!submitted.pid) throw new Error(`job ${jobId} never reached Slurm: ${submitted.status}`);
      const w: Watched = { pid: submitted.pid, jobId };
      watched.set(submitted.pid, w);
      const { status } = await api.waitForStatus(jobId, (s) => FINAL_STATES.has(s.state), STATUS_EVERY_MS, 300_000);
      w.gatewaySeenAt = wallNow();
      w.gatewayState = status.state;
      w.gatewayEnd = status.slurm.end;
    };
    try {
      await Promise.all(Array.from({ length: settings.jobs }, (_, i) => followJob(i)));
      const deadline = Date.now() + 30_000;
      while ([...watched.values()].some((w) => w.sacctSeenAt === undefined) && Date.now() < deadline) await sleep(100);
    } finally {
      finished = true;
      await accounting;
    }

    const complete = [...watched.values()].filter((w) => w.end !== undefined && w.gatewaySeenAt !== undefined && w.sacctSeenAt !== undefined);
    await readLastWrites(open, complete);
    // The end to the millisecond: the job's last write when it falls within Slurm's End second
    // (End is truncated to whole seconds), else End itself.
    const refined = complete.filter((w) => w.lastWrite !== undefined && w.lastWrite >= w.end! && w.lastWrite < w.end! + 1);
    const preciseEnd = (w: Watched) => (refined.includes(w) ? w.lastWrite! : w.end!) * 1000;
    const gatewayDelay = complete.map((w) => (w.gatewaySeenAt! - preciseEnd(w)) / 1000);
    const sacctDelay = complete.map((w) => (w.sacctSeenAt! - preciseEnd(w)) / 1000);
    const gatewayDelayFromEnd = complete.map((w) => (w.gatewaySeenAt! - w.end! * 1000) / 1000);
    const sacctDelayFromEnd = complete.map((w) => (w.sacctSeenAt! - w.end! * 1000) / 1000);
    const endMismatch = complete.filter((w) => w.gatewayEnd && Date.parse(w.gatewayEnd) !== w.end! * 1000).length;
    const states = [...watched.values()].reduce<Record<string, number>>((acc, w) => ({ ...acc, [w.gatewayState ?? '?']: (acc[w.gatewayState ?? '?'] ?? 0) + 1 }), {});
    const g = summarize(gatewayDelay);
    const s = summarize(sacctDelay);
    const reps = `${complete.length} jobs`;
    return {
      baseline: `a client asking \`sacct -X -j <ids>\` itself every ${SACCT_EVERY_MS} ms over an open SSH connection: the earliest moment Slurm's accounting shows the end.`,
      method: [
        `${settings.jobs} jobs (the stand-in sfinder on a 64×64 image, \`no-mpi\`, a few seconds each) are submitted through a gateway child process with its ` +
        `default poll schedule (\`${defaultSchedule}\`: a submit/poll/collect cycle every 2 s), ${settings.staggerMs} ms apart so that their ends fall at ` +
        `different points of the cycle. Each job's status is polled every ${STATUS_EVERY_MS} ms until it is final. Delay = moment the status first shows ` +
        'the final state − the moment the job ended. Slurm records End with 1 s resolution (truncated), so the end is taken to the millisecond ' +
        'from the job itself: the newest modification time among the files of its job directory on the cluster (`stat -c %.9Y`: the stand-in\'s last ' +
        'output, written just before it exits), when that falls within End\'s second. That moment is slightly before the true end, so the delay is ' +
        'if anything over-stated. The delays measured from End itself (over-stated by 0–1 s) are shown too. ' +
        `The status polling adds up to ${STATUS_EVERY_MS} ms.`,
      ],
      figures: [
        figure('delay job end → final state reported, median, s', gatewayDelay, sacctDelay,
          { target: 'median ≤ 2 s', check: (x) => x.median <= 2, repetitions: reps }),
        { name: 'delay job end → final state reported, p95, s', gateway: summarize([g.p95]), baseline: summarize([s.p95]), ratio: g.p95 / s.p95, repetitions: reps },
        figure('the same delay measured from sacct\'s End (whole seconds, truncated), median, s', gatewayDelayFromEnd, sacctDelayFromEnd, { repetitions: reps }),
      ],
      notes: [
        `Final states reported: ${Object.entries(states).map(([k, v]) => `${k} ×${v}`).join(', ')}. ` +
        `The gateway's slurm.end differed from sacct's End for ${endMismatch} job(s).`,
        `Spread of the gateway's delay: min ${fmt(g.min)} s, p25 ${fmt(g.p25)} s, p75 ${fmt(g.p75)} s, max ${fmt(g.max)} s.`,
        `The end was refined to the millisecond for ${refined.length} of ${complete.length} jobs (the others use End).`,
        'The gateway turns a job final only once sacct has it (or squeue has shown the end for poll.accountingLagSeconds); ' +
        'so its delay ≈ the accounting lag (the baseline) + the wait for the next 2 s cycle (0–2 s, 1 s on average) + the cycle itself.',
      ],
    };
  });
}

export const freshness: Benchmark = { key: 'freshness', id: '6', title: 'Freshness', run };
