// 2. Polling cost: Slurm commands issued per poll cycle with 10, 100 and 1,000 active jobs, and
// the cycle's duration against one bare `sacct -j <all ids>`. The active jobs are real Slurm jobs
// held pending (`sbatch -H`, so they never run) with matching rows in the gateway's database.
import { withCleanup } from './lib/cleanup.ts';
import { OpenConnection, cancelJobs, readConnection } from './lib/cluster.ts';
import { startInProcessGateway } from './lib/gateway.ts';
import { jobRow } from './lib/jobRows.ts';
import { figure, type Benchmark, type BenchmarkBody, type Figure } from './lib/report.ts';
import { fmt, nowMs } from './lib/stats.ts';
import { benchConfig } from './config.ts';

const settings = benchConfig.polling;
const HOLD_LOOPS = 4;

/** `count` held jobs, created by HOLD_LOOPS loops on the cluster (one SSH exec each). */
async function holdJobs(open: OpenConnection, count: number, created: string[]): Promise<void> {
  const loop = async (n: number) => {
    if (n === 0) return;
    const result = await open.exec(
      `for i in $(seq ${n}); do sbatch -H --parsable --job-name=bench-held --output=/dev/null --wrap=true || exit 1; done`,
    );
    // Keep the ids even when a later sbatch failed: they must be cancelled.
    for (const line of result.stdout.split('\n')) if (/^\d+/.test(line)) created.push(line.split(';')[0]!.trim());
    if (result.code !== 0) throw new Error(`sbatch -H failed: ${result.stderr.trim()}`);
  };
  const share = Math.ceil(count / HOLD_LOOPS);
  await Promise.all(Array.from({ length: HOLD_LOOPS }, (_, i) => loop(Math.max(0, Math.min(share, count - i * share)))));
  if (created.length < count) throw new Error(`only ${created.length}/${count} held jobs were created`);
}

async function run(): Promise<BenchmarkBody> {
  return withCleanup(async (cleanup) => {
    const open = await OpenConnection.open(readConnection());
    cleanup.defer('close the open ssh connection', () => open.close());
    const held: string[] = [];
    cleanup.defer('cancel the held jobs', () => cancelJobs(held));
    const largest = Math.max(...settings.sizes);
    const holdStarted = nowMs();
    await holdJobs(open, largest, held);
    const holdSeconds = (nowMs() - holdStarted) / 1000;

    const { gateway } = await startInProcessGateway(cleanup);
    const figures: Figure[] = [];
    const notes: string[] = [];
    for (const size of settings.sizes) {
      const ids = held.slice(0, size);
      await gateway.db('jobs').del();
      await gateway.db.batchInsert('jobs', ids.map((id) => jobRow(id, { tag: 'bench-polling' })), 100);
      await gateway.poller.pollCluster('local'); // warm-up: connection, first write of every row

      const commands: number[] = [];
      const cycleMs: number[] = [];
      const sacctMs: number[] = [];
      const snapshotMs: number[] = [];
      const scheduler = gateway.schedulers.get('local')!;
      const pollOnce = async () => {
        const before = await gateway.metrics.slurmCommandCount('local');
        const started = nowMs();
        await gateway.poller.pollCluster('local');
        cycleMs.push(nowMs() - started);
        commands.push(await gateway.metrics.slurmCommandCount('local') - before);
      };
      // Diagnostic, outside the counted cycles: the Slurm half of a cycle alone.
      const slurmHalf = async () => {
        const started = nowMs();
        await scheduler.snapshot(ids, Math.floor(Date.now() / 1000) - 3600);
        snapshotMs.push(nowMs() - started);
      };
      const bareSacct = async () => {
        const started = nowMs();
        await open.check(`sacct -X --noheader --parsable2 -j ${ids.join(',')}`);
        sacctMs.push(nowMs() - started);
      };
      for (let rep = 0; rep < settings.reps; rep += 1) {
        if (rep % 2 === 0) { await pollOnce(); await bareSacct(); } else { await bareSacct(); await pollOnce(); }
        await slurmHalf();
      }
      const stillActive = (await gateway.jobs.active('local')).length;
      if (stillActive !== size) notes.push(`With ${size} jobs, ${stillActive} were still active after the cycles (expected all).`);
      figures.push(
        figure(`Slurm commands per poll cycle, ${size} active jobs`, commands, undefined,
          { target: '≤ 2, constant', check: (g) => g.max <= 2, repetitions: `${settings.reps}` }),
        figure(`poll cycle vs one bare sacct, ${size} active jobs, ms`, cycleMs, sacctMs,
          { repetitions: `${settings.reps} alternating` }),
        figure(`of which squeue + sacct (scheduler.snapshot alone), ${size} jobs, ms`, snapshotMs, sacctMs,
          { repetitions: `${settings.reps}` }),
      );
    }
    const cfg = gateway.config.poll;
    notes.push(
      `The gateway was configured as shipped: poll.idChunkSize = ${cfg.idChunkSize}: up to that many jobs, squeue and sacct are asked by id; ` +
      'beyond it, by user and start time; either way one squeue and one sacct per cycle (run in parallel).',
      'The cycle duration covers what `Poller.pollCluster` does: read the active jobs, squeue + sacct over the gateway\'s SSH connection, ' +
      'decide each job\'s verdict and write to SQLite the rows whose Slurm view changed. The baseline is `sacct -X --noheader --parsable2 -j <all ids>` ' +
      'over an already-open ssh2 connection from the benchmark process (same sshd, same user).',
      `Creating ${largest} held jobs (${HOLD_LOOPS} parallel \`sbatch -H\` loops on the cluster) took ${fmt(holdSeconds)} s; they are cancelled by id afterwards.`,
    );
    return {
      baseline: 'one bare `sacct -X -j <all ids>` over an already-open SSH connection.',
      method: [
        `Real Slurm jobs held pending (\`sbatch -H --wrap=true\` as hpcuser: they never run) and, in an in-process gateway's SQLite database, ` +
        `a matching job row each (state PENDING, submit_phase submitted, slurm_job_id set) — ${settings.sizes.join(', ')} of them in turn. ` +
        `After one warm-up cycle, \`gateway.poller.pollCluster('local')\` runs ${settings.reps} times; the Slurm commands of each cycle are counted with ` +
        '`metrics.slurmCommandCount()` before and after, and the cycle is timed; the bare sacct runs alternately with it.',
      ],
      figures,
      notes,
    };
  });
}

export const polling: Benchmark = { key: 'polling', id: '2', title: 'Polling cost', run };
