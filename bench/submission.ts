// 1. Submission: latency from POST /job until the job has a Slurm id, against `ssh host sbatch`
// (a new SSH connection per command, as a script does) and against sbatch over one already-open
// connection; then the throughput of a campaign from 16 concurrent clients against 16 parallel
// `ssh host sbatch` loops.
import { ApiClient, FINAL_STATES, type JobStatus } from './lib/api.ts';
import { withCleanup, type Cleanup } from './lib/cleanup.ts';
import {
  BASELINE_SBATCH, BENCH_REMOTE_ROOT, OpenConnection, openBenchConnection, OpenSshClient, cancelJobs, parseJobId, readConnection, repeatIfDaemonAway,
} from './lib/cluster.ts';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { ResidentShell } from '../src/remote/residentShell.ts';
import { SshConnection } from '../src/remote/sshConnection.ts';
import { prepareAndSubmitScript, remoteScript } from '../src/scheduler/slurm/commands.ts';
import { tinyFits } from './lib/fits.ts';
import { benchTempDir, metricSum, startGatewayProcess, type GatewayProcess } from './lib/gateway.ts';
import { figure, type Benchmark, type BenchmarkBody } from './lib/report.ts';
import { fmt, nowMs, sleep, summarize } from './lib/stats.ts';
import { benchConfig } from './config.ts';

const settings = benchConfig.submission;

/** The jobs do nothing on the node, like the baselines' `--wrap=true`: what is measured is the
 *  path to a Slurm id, not CAESAR (and 500 stand-in runs would load the 2 cores meanwhile). */
const GATEWAY_CLUSTER = { sfinderExecutable: '/bin/true' };

interface GatewaySample {
  ms: number;
  postMs: number;
  jobId: string;
  /** Wall-clock (epoch ms) when the POST was sent and when the id was seen, to line up with the gateway's logs. */
  sentAt: number;
  seenAt: number;
}

const wall = (t: number) => performance.timeOrigin + t;

/** POST /job with `Prefer: wait=30`, which the gateway answers once the job has its Slurm id. */
async function gatewayLatencyPreferWait(api: ApiClient, fileId: string, slurmIds: Set<string>): Promise<GatewaySample> {
  const started = nowMs();
  const answer = await api.submitPreferringWait(fileId, 'bench-latency');
  const seenAt = nowMs();
  return sample({ pid: answer.pid, status: answer.state }, slurmIds, { started, postMs: seenAt - started, jobId: answer.jobId, seenAt });
}

/** POST /job, then long-poll the status (`?wait=` with the POST's ETag) until it shows a Slurm id. */
async function gatewayLatency(api: ApiClient, fileId: string, slurmIds: Set<string>): Promise<GatewaySample> {
  const started = nowMs();
  const { jobId, etag } = await api.submitForWaiting(fileId, 'bench-latency');
  const postMs = nowMs() - started;
  const { status, seenAt } = await api.waitForChange(jobId, etag, (s) => s.pid !== null || FINAL_STATES.has(s.state));
  return sample(status, slurmIds, { started, postMs, jobId, seenAt });
}

/** The same, for a client that polls the status every statusPollMs instead of waiting on it. */
async function gatewayLatencyPolling(api: ApiClient, fileId: string, slurmIds: Set<string>): Promise<GatewaySample> {
  const started = nowMs();
  const jobId = await api.submit(fileId, 'bench-latency');
  const postMs = nowMs() - started;
  const { status, seenAt } = await api.waitForStatus(jobId, (s) => s.pid !== null || FINAL_STATES.has(s.state), settings.statusPollMs);
  return sample(status, slurmIds, { started, postMs, jobId, seenAt });
}

function sample(status: Pick<JobStatus, 'pid' | 'status'>, slurmIds: Set<string>, at: { started: number; postMs: number; jobId: string; seenAt: number }): GatewaySample {
  if (!status.pid) throw new Error(`job ${at.jobId} ended without a Slurm id: ${status.status}`);
  slurmIds.add(status.pid);
  return { ms: at.seenAt - at.started, postMs: at.postMs, jobId: at.jobId, sentAt: wall(at.started), seenAt: wall(at.seenAt) };
}

async function timedSbatch(submit: () => Promise<{ code: number | null; stdout: string; stderr: string }>, slurmIds: Set<string>): Promise<number> {
  const started = nowMs();
  const result = await submit();
  const ms = nowMs() - started;
  if (result.code !== 0) throw new Error(`sbatch failed (${result.code}): ${result.stderr.trim()}`);
  slurmIds.add(parseJobId(result.stdout));
  return ms;
}

/** Where the gateway's time goes, from its own logs ('job accepted', 'submitted to Slurm') and metrics. */
function breakdown(gateway: GatewayProcess, samples: readonly GatewaySample[], metrics: string): string[] {
  const acceptedAt = new Map<string, number>();
  const submittedAt = new Map<string, number>();
  for (const line of gateway.logs()) {
    if (line.msg === 'job accepted' && line.job) acceptedAt.set(line.job, line.time);
    if (line.msg === 'submitted to Slurm' && line.job) submittedAt.set(line.job, line.time);
  }
  const accept: number[] = [];
  const submit: number[] = [];
  const detect: number[] = [];
  for (const s of samples) {
    const a = acceptedAt.get(s.jobId);
    const b = submittedAt.get(s.jobId);
    if (a === undefined || b === undefined) continue;
    accept.push(a - s.sentAt);
    submit.push(b - a);
    detect.push(s.seenAt - b);
  }
  const sbatchSum = metricSum(metrics, 'caesar_slurm_command_duration_seconds_sum', { kind: 'sbatch' });
  const sbatchCount = metricSum(metrics, 'caesar_slurm_command_duration_seconds_count', { kind: 'sbatch' });
  if (accept.length === 0) return ['No breakdown: the gateway\'s logs had no "job accepted"/"submitted to Slurm" lines for these jobs.'];
  const m = (v: number[]) => fmt(summarize(v).median);
  return [
    `Where the gateway's latency goes (medians over ${accept.length} jobs, from its info logs, 1 ms resolution): ` +
    `POST received → job persisted and logged ${m(accept)} ms; persisted → sbatch answered and the id recorded ${m(submit)} ms ` +
    `(the job directory — \`cd <made ahead>; printf config; printf script\`, the config naming the input's staged copy — is written on the gateway's resident cluster shell while the job is being persisted; ` +
    `after the commit \`sbatch\` follows right behind it on the same shell, run only if the directory was written; then the DB write); ` +
    `id recorded → the client has the POST's answer ${m(detect)} ms. ` +
    `The gateway's own sbatch command (from its write after the commit to its answer, including the wait for the directory's writing ahead of it) took ${fmt((sbatchSum / Math.max(1, sbatchCount)) * 1000)} ms on average ` +
    `(caesar_slurm_command_duration_seconds, ${sbatchCount} commands including the warm-up).`,
  ];
}

/**
 * Diagnostic: the gateway's remote command rebuilt from src (its script builder, its SSH
 * connection class and its resident shell) with the files of one of its real job directories,
 * timed in growing pieces on a resident shell of the benchmark's own — next to an exec of `true`
 * (the cost of any command on a new channel) and a bare sbatch on a new channel (baseline (b)),
 * interleaved — to show where the sbatch step's time goes on the cluster.
 */
async function remoteCommandCost(open: OpenConnection, sampleJobDir: string, rounds: number, slurmIds: Set<string>): Promise<string> {
  const names = (await open.check(`cd ${sampleJobDir} && ls -1`)).split('\n').filter((n) => n === 'job.sbatch' || /^config_.*\.cfg$/.test(n));
  const files: Record<string, string> = {};
  for (const name of names) files[name] = await open.check(`cat ${sampleJobDir}/${name}`);
  const links: Record<string, string> = {};
  for (const line of (await open.check(`cd ${sampleJobDir} && find . -maxdepth 1 -type l -printf '%f\\t%l\\n'`)).split('\n')) {
    const [name, target] = line.split('\t');
    if (name && target) links[name] = target;
  }
  const conn = readConnection();
  const ssh = new SshConnection({
    name: 'bench-diagnostic', host: conn.host, port: conn.port, username: conn.user, privateKey: readFileSync(conn.privateKeyPath),
    hostKey: conn.hostKey, maxChannels: 8, keepaliveIntervalMs: 10_000, logger: pino({ level: 'silent' }),
  });
  const shell = new ResidentShell('bench-diagnostic', () => ssh.openResidentChannel(remoteScript('exec /bin/sh -s')));
  const onShell = async (script: string) => {
    const result = await shell.run(script, { timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(`resident shell: exit ${result.code}: ${result.stderr}`);
    return result.stdout.trim();
  };
  const pieces: Array<{ label: string; run: (i: number) => Promise<string>; submits: boolean }> = [
    { label: '`true` on a new channel', run: () => open.check('true'), submits: false },
    { label: 'bare `sbatch --wrap=true` on a new channel (baseline (b))', run: () => open.check(BASELINE_SBATCH), submits: true },
    { label: '`true` on the resident shell', run: () => onShell('true'), submits: false },
    { label: 'the job files into a new directory (mkdir -p, cd, printf) on the resident shell', run: (i) => onShell(jobScript(i).slice(0, jobScript(i).lastIndexOf(' && '))), submits: false },
    { label: 'the whole submission into that directory, now existing as when made ahead (cd, printf, sbatch of the job script) on the resident shell', run: (i) => onShell(jobScript(i)), submits: true },
  ];
  function jobScript(i: number): string {
    return prepareAndSubmitScript({ jobDir: `${BENCH_REMOTE_ROOT}/diagnostic/${i}`, files, links, scriptName: 'job.sbatch', jobName: 'bench-diagnostic' });
  }
  const times = pieces.map(() => [] as number[]);
  try {
    await onShell('true'); // start the shell: not counted, like the gateway's warm-up
    for (let i = 0; i < rounds; i += 1) {
      for (const [k, piece] of pieces.entries()) {
        const started = nowMs();
        const out = await piece.run(i);
        times[k]!.push(nowMs() - started);
        if (piece.submits) slurmIds.add(parseJobId(out));
      }
    }
  } finally {
    shell.close();
    await ssh.close();
  }
  const parts = pieces.map((piece, k) => `${piece.label} ${fmt(summarize(times[k]!).median)} ms`);
  return `The gateway's remote sbatch command, rebuilt with src's own builders (\`prepareAndSubmitScript(…)\` on a \`ResidentShell\`, with one of its jobs' ` +
    `${Object.keys(files).length} files, ${Object.values(files).reduce((n, f) => n + f.length, 0)} bytes), next to commands on new channels of the benchmark's open connection ` +
    `(medians of ${rounds} interleaved rounds): ${parts.join('; ')}.`;
}

async function latency(cleanup: Cleanup, slurmIds: Set<string>) {
  const conn = readConnection();
  const openssh = new OpenSshClient(conn, benchTempDir(cleanup, 'submission'));
  const open = await OpenConnection.open(conn);
  cleanup.defer('close the open ssh connection', () => open.close());
  const gateway = await startGatewayProcess(cleanup, { cluster: GATEWAY_CLUSTER });
  const api = new ApiClient(gateway.base);
  const fileId = await api.upload(tinyFits(), 'bench-tiny.fits');

  // Warm-up, not counted: the gateway's SSH connection and the input's staging happen here.
  await gatewayLatencyPreferWait(api, fileId, slurmIds);
  await timedSbatch(() => openssh.run(BASELINE_SBATCH), slurmIds);
  await timedSbatch(() => open.exec(BASELINE_SBATCH), slurmIds);

  const samples: GatewaySample[] = [];
  const longPolled: GatewaySample[] = [];
  const polled: GatewaySample[] = [];
  const sshNew: number[] = [];
  const sshOpen: number[] = [];
  const steps = [
    async () => { samples.push(await gatewayLatencyPreferWait(api, fileId, slurmIds)); },
    async () => { longPolled.push(await gatewayLatency(api, fileId, slurmIds)); },
    async () => { polled.push(await gatewayLatencyPolling(api, fileId, slurmIds)); },
    async () => { sshNew.push(await timedSbatch(() => openssh.run(BASELINE_SBATCH), slurmIds)); },
    async () => { sshOpen.push(await timedSbatch(() => open.exec(BASELINE_SBATCH), slurmIds)); },
  ];
  for (let round = 0; round < settings.latencySamples; round += 1) {
    // Rotate the order so no variant always runs right after another.
    for (let k = 0; k < steps.length; k += 1) await steps[(round + k) % steps.length]!();
  }
  await sleep(300); // let the last log lines arrive
  const diagnostic = await remoteCommandCost(open, `${BENCH_REMOTE_ROOT}/jobs/${samples[0]!.jobId}`, settings.latencySamples, slurmIds);
  const notes = [...breakdown(gateway, samples, await gateway.metrics()), diagnostic];
  return { samples, longPolled, polled, sshNew, sshOpen, notes };
}

/** N jobs from 16 concurrent clients through a fresh gateway; seconds until all were accepted
 *  (202) and until all have a Slurm id. */
async function gatewayCampaign(rep: number, slurmIds: Set<string>): Promise<{ accepted: number; seconds: number }> {
  return withCleanup(async (cleanup) => {
    const gateway = await startGatewayProcess(cleanup, { cluster: GATEWAY_CLUSTER });
    const api = new ApiClient(gateway.base);
    const fileId = await api.upload(tinyFits(), 'bench-tiny.fits');
    await gatewayLatency(api, fileId, slurmIds); // warm-up: connection and staging
    const tag = `bench-campaign-${rep}`;
    cleanup.defer('cancel the campaign jobs', async () => {
      const listed = await api.listByTag(tag).catch(() => []);
      const pids = listed.map((j) => j.pid).filter((p): p is string => p !== null);
      pids.forEach((p) => slurmIds.add(p));
      await cancelJobs(pids);
    });
    const started = nowMs();
    let next = 0;
    const client = async () => {
      while (next < settings.campaignJobs) {
        next += 1;
        await api.submit(fileId, tag);
      }
    };
    await Promise.all(Array.from({ length: settings.campaignClients }, client));
    const accepted = (nowMs() - started) / 1000;
    for (;;) {
      const listed = await api.listByTag(tag);
      const withId = listed.filter((j) => j.pid !== null).length;
      const lost = listed.filter((j) => j.pid === null && FINAL_STATES.has(j.state));
      if (lost.length > 0) throw new Error(`${lost.length} campaign jobs ended without a Slurm id: ${lost[0]!.status}`);
      if (withId === settings.campaignJobs) break;
      if (nowMs() - started > 300_000) throw new Error(`campaign: only ${withId}/${settings.campaignJobs} jobs had a Slurm id after 300 s`);
      await sleep(250);
    }
    return { accepted, seconds: (nowMs() - started) / 1000 };
  });
}

/** The same number of `ssh host sbatch` from 16 parallel loops; seconds until all answered. */
async function sshCampaign(openssh: OpenSshClient, slurmIds: Set<string>): Promise<{ seconds: number; retries: number }> {
  const ids: string[] = [];
  let retries = 0;
  let next = 0;
  const started = nowMs();
  const loop = async () => {
    while (next < settings.campaignJobs) {
      next += 1;
      for (let attempt = 1; ; attempt += 1) {
        const result = await openssh.run(BASELINE_SBATCH);
        if (result.code === 0) {
          ids.push(parseJobId(result.stdout));
          break;
        }
        if (attempt >= 5) throw new Error(`ssh sbatch failed 5 times: ${result.stderr.trim()}`);
        retries += 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: settings.campaignClients }, loop));
    return { seconds: (nowMs() - started) / 1000, retries };
  } finally {
    ids.forEach((id) => slurmIds.add(id));
    await cancelJobs(ids);
  }
}

async function run(): Promise<BenchmarkBody> {
  return withCleanup(async (cleanup) => {
    const conn = readConnection();
    await openBenchConnection(cleanup, conn);
    const slurmIds = new Set<string>();
    cleanup.defer('cancel every Slurm job this benchmark created', () => cancelJobs(slurmIds));

    const measured = await repeatIfDaemonAway('The latency measurement', [], () => withCleanup((inner) => latency(inner, slurmIds)));
    await cancelJobs(slurmIds);

    const openssh = new OpenSshClient(conn, benchTempDir(cleanup, 'campaign'));
    const gatewayRates: number[] = [];
    const acceptRates: number[] = [];
    const sshRates: number[] = [];
    let sshRetries = 0;
    const reruns: string[] = [];
    for (let rep = 0; rep < settings.campaignReps; rep += 1) {
      const campaign = await repeatIfDaemonAway(`Gateway campaign ${rep + 1}`, reruns, () => gatewayCampaign(rep, slurmIds));
      gatewayRates.push(settings.campaignJobs / campaign.seconds);
      acceptRates.push(settings.campaignJobs / campaign.accepted);
      await sleep(2_000);
      const ssh = await repeatIfDaemonAway(`ssh campaign ${rep + 1}`, reruns, () => sshCampaign(openssh, slurmIds));
      sshRates.push(settings.campaignJobs / ssh.seconds);
      sshRetries += ssh.retries;
      await sleep(2_000);
    }

    const latencies = measured.samples.map((s) => s.ms);
    const n = `${settings.latencySamples} interleaved`;
    return {
      baseline: '(a) `ssh -i key -p 2222 hpcuser@127.0.0.1 sbatch --parsable --wrap=true` with OpenSSH, a new connection per job ' +
        '(host key pinned, BatchMode, no ControlMaster); (b) the same sbatch over one already-open connection (ssh2 in the benchmark ' +
        'process, one `exec` channel per job); for the campaign, 16 parallel loops of (a).',
      method: [
        `Latency: the gateway runs as a child process (\`scripts/start-gateway.sh\`, as \`npm start\` runs it, default settings except its jobs run \`/bin/true\` instead of sfinder, ` +
        `like the baselines' \`--wrap=true\`). The clock starts when the client sends \`POST /job\` (a 64×64 FITS, \`no-mpi\`) and stops when ` +
        'the client has the Slurm id. The headline client sends the POST with `Prefer: wait=30` (RFC 7240), which the gateway answers once the job ' +
        'has its Slurm id (`pid` in the 202). Two more gateway figures are for clients of the plain POST: one sends ' +
        '`GET /job/<id>/status?wait=30` with `If-None-Match` set to the POST\'s ETag (held by the gateway until the status changes), ' +
        `again until the status shows a \`pid\`; one polls \`GET /job/<id>/status\` every ${settings.statusPollMs} ms. ` +
        `${settings.latencySamples} rounds, each running the three gateway clients, (a) and (b) once in rotating order, after one warm-up of each ` +
        '(the warm-up opens the gateway\'s SSH connection and stages the input file).',
        `Campaign: ${settings.campaignJobs} jobs from ${settings.campaignClients} concurrent HTTP clients (each posts its next job as soon as the previous one was accepted) ` +
        'into a freshly started gateway (after one warm-up job); the clock stops when `GET /jobs?tag=…` (polled every 250 ms) shows a Slurm id for all of them. ' +
        `Baseline: ${settings.campaignJobs} \`ssh host sbatch\` from ${settings.campaignClients} parallel loops. ${settings.campaignReps} repetitions of each, alternating; ` +
        'all jobs are cancelled by id right after each repetition.',
      ],
      figures: [
        figure('latency POST /job → Slurm id vs (a) ssh per job, ms', latencies, measured.sshNew,
          { target: 'ratio ≤ 0.6', check: (_g, r) => r !== undefined && r <= 0.6, repetitions: n }),
        figure('latency POST /job → Slurm id vs (b) open connection, ms', latencies, measured.sshOpen,
          { target: 'ratio ≤ 1.5', check: (_g, r) => r !== undefined && r <= 1.5, repetitions: n }),
        figure('latency POST /job (no Prefer) → Slurm id, client long-polling the status (?wait=, If-None-Match), vs (b), ms', measured.longPolled.map((s) => s.ms), measured.sshOpen,
          { repetitions: n }),
        figure(`latency POST /job (no Prefer) → Slurm id, client polling the status every ${settings.statusPollMs} ms, vs (b), ms`, measured.polled.map((s) => s.ms), measured.sshOpen,
          { repetitions: n }),
        figure('POST /job (no Prefer) answered (202), ms — part of the long-polling client\'s figure', measured.longPolled.map((s) => s.postMs), undefined, { repetitions: n }),
        figure(`campaign of ${settings.campaignJobs} jobs from ${settings.campaignClients} clients, jobs/s (higher is better)`, gatewayRates, sshRates,
          { repetitions: `${settings.campaignReps} alternating` }),
        figure('campaign: rate of POST /job accepted (202), jobs/s — before the Slurm ids', acceptRates, undefined,
          { repetitions: `${settings.campaignReps}` }),
      ],
      notes: [
        ...measured.notes,
        `Latency p95: gateway ${fmt(summarize(latencies).p95)} ms, (a) ${fmt(summarize(measured.sshNew).p95)} ms, (b) ${fmt(summarize(measured.sshOpen).p95)} ms.`,
        `The ssh campaign needed ${sshRetries} retries of a failed connection.`,
        ...reruns,
      ],
    };
  });
}

export const submission: Benchmark = { key: 'submission', id: '1', title: 'Submission', run };
