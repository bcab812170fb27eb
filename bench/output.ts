// 5. Output: time to serve a job directory as tar.gz from the cluster — the gateway's collector
// streaming `tar -cz` over its SSH connection into its output store, then GET /job/<id>/output —
// against `ssh host tar -cz -C dir . > file`.
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { withCleanup } from './lib/cleanup.ts';
import { BENCH_REMOTE_ROOT, openBenchConnection, OpenSshClient, readConnection, repeatIfDaemonAway, run } from './lib/cluster.ts';
import { benchTempDir, startInProcessGateway } from './lib/gateway.ts';
import { jobRow } from './lib/jobRows.ts';
import { figure, type Benchmark, type BenchmarkBody } from './lib/report.ts';
import { fmt, nowMs, summarize } from './lib/stats.ts';
import { benchConfig } from './config.ts';

const settings = benchConfig.output;
const MiB = 1024 ** 2;

async function measure(): Promise<BenchmarkBody> {
  return withCleanup(async (cleanup) => {
    const conn = readConnection();
    const open = await openBenchConnection(cleanup, conn);
    const work = benchTempDir(cleanup, 'output');
    const openssh = new OpenSshClient(conn, work);
    const { gateway, url } = await startInProcessGateway(cleanup);

    // A finished job whose directory holds incompressible data (so gzip cannot shortcut it).
    const row = jobRow('1', { tag: 'bench-output', state: 'SUCCESS', status: 'Job completed with success', output_phase: 'pending', finished_at: new Date().toISOString() });
    const jobId = row.id!;
    const remoteDir = `${BENCH_REMOTE_ROOT}/jobs/${jobId}`;
    const created = nowMs();
    await open.check(`mkdir -p ${remoteDir} && head -c ${settings.mib}M /dev/urandom > ${remoteDir}/data.bin && echo '#!/bin/sh' > ${remoteDir}/job.sbatch`);
    const createSeconds = (nowMs() - created) / 1000;
    await gateway.db('jobs').insert(row);

    const gatewayRun = async () => {
      await gateway.db('jobs').where({ id: jobId }).update({ output_phase: 'pending', output_path: null, output_bytes: null, output_attempts: 0 });
      const started = nowMs();
      await gateway.collector.collectCluster('local');
      const collected = nowMs();
      const after = (await gateway.jobs.find(jobId))!;
      if (after.output_phase !== 'done') throw new Error(`collection failed: ${after.output_phase} ${after.last_error}`);
      // The client is curl, a process of its own, as a user's would be.
      const target = path.join(work, 'gateway.tar.gz');
      const got = await run('curl', ['-sS', '--fail', '-o', target, url(`/job/${jobId}/output`)]);
      if (got.code !== 0) throw new Error(`GET /job/<id>/output failed: ${got.stderr.trim()}`);
      const done = nowMs();
      const bytes = statSync(target).size;
      rmSync(target);
      rmSync(after.output_path!, { force: true });
      return { total: (done - started) / 1000, collect: (collected - started) / 1000, serve: (done - collected) / 1000, bytes };
    };
    const sshRun = async () => {
      const target = path.join(work, 'ssh.tar.gz');
      const started = nowMs();
      const result = await openssh.run(`tar -cz -C ${remoteDir} .`, { stdoutFile: target });
      const seconds = (nowMs() - started) / 1000;
      if (result.code !== 0) throw new Error(`ssh tar failed (${result.code}): ${result.stderr.trim()}`);
      const bytes = statSync(target).size;
      rmSync(target);
      return { seconds, bytes };
    };

    const g: Awaited<ReturnType<typeof gatewayRun>>[] = [];
    const s: Awaited<ReturnType<typeof sshRun>>[] = [];
    const reruns: string[] = [];
    const gatewayRep = async (rep: number) => { g.push(await repeatIfDaemonAway(`Gateway repetition ${rep + 1}`, reruns, gatewayRun)); };
    const sshRep = async (rep: number) => { s.push(await repeatIfDaemonAway(`ssh repetition ${rep + 1}`, reruns, sshRun)); };
    for (let rep = 0; rep < settings.reps; rep += 1) {
      if (rep % 2 === 0) { await gatewayRep(rep); await sshRep(rep); } else { await sshRep(rep); await gatewayRep(rep); }
    }
    const reps = `${settings.reps} alternating`;
    const m = (values: number[]) => fmt(summarize(values).median);
    return {
      baseline: '`ssh -p 2222 hpcuser@127.0.0.1 tar -cz -C <job dir> . > file` with the OpenSSH client (new connection, as a script would).',
      method: [
        `A job directory of ${settings.mib} MiB of random bytes (\`head -c ${settings.mib}M /dev/urandom\`, incompressible) is made on the cluster under the benchmark's ` +
        'remote root, with a finished job row for it (state SUCCESS, output_phase pending) in an in-process gateway\'s database. ' +
        'Gateway time: `gateway.collector.collectCluster(\'local\')` (tar -cz on the cluster streamed over its SSH connection into its output store) ' +
        'plus `GET /job/<id>/output` downloaded to a file by curl. The row is reset to pending before each repetition.',
      ],
      figures: [
        figure(`time to serve ${settings.mib} MiB as tar.gz, s`, g.map((r) => r.total), s.map((r) => r.seconds),
          { target: 'ratio ≤ 1.2', check: (_g, r) => r !== undefined && r <= 1.2, repetitions: reps }),
        figure('of which the collection (tar over SSH into the store), s', g.map((r) => r.collect), s.map((r) => r.seconds), { repetitions: reps }),
        figure('of which GET /job/<id>/output, s', g.map((r) => r.serve), undefined, { repetitions: reps }),
      ],
      notes: [
        `Archive sizes: gateway ${m(g.map((r) => r.bytes / MiB))} MiB, ssh ${m(s.map((r) => r.bytes / MiB))} MiB. ` +
        `Making the ${settings.mib} MiB directory took ${fmt(createSeconds)} s (not counted).`,
        ...reruns,
        'Both ends are on this machine: `tar -cz` (single-threaded gzip) on the cluster side competes for the same 2 cores as the gateway\'s ssh2 decryption and file writes.',
      ],
    };
  });
}

export const output: Benchmark = { key: 'output', id: '5', title: 'Output', run: measure };
