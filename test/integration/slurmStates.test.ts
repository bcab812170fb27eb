// Every Slurm state that can be produced on this machine, produced for real (jobs submitted as
// the cluster user over the real sshd, then driven by scancel/scontrol), followed by the
// gateway's real poller, and mapped onto the right job state and status.
import { mkdtempSync, rmSync } from 'node:fs';
import { writeGatewayConfig } from '../support/gatewayConfig.ts';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { asClusterUser, asRoot, connection, sleep, slurmState, waitFor } from '../support/cluster.ts';
import { startTestGateway, jobStatus, type TestGateway, type StatusBody } from '../support/testGateway.ts';
import { trackSlurmJob } from '../support/trackedJob.ts';

const sbatch = async (args: string) => (await asClusterUser(`cd /tmp && sbatch --parsable ${args}`)).split(';')[0]!;

describe('Slurm states, produced for real and followed by the poller', function () {
  this.timeout(300_000);
  let gw: TestGateway;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-states-'));
    const config = writeGatewayConfig(dir, { poll: { requeueGraceSeconds: 3, accountingLagSeconds: 10 } });
    gw = await startTestGateway({ CAESAR_GATEWAY_CONFIG: config });
    await asClusterUser(`cat > /tmp/caesar-oom.py <<'EOF'
import time
blocks = []
for i in range(200):
    blocks.append(bytearray(20 * 1024 * 1024)); time.sleep(0.02)
EOF`);
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const status = (id: string) => jobStatus(gw, id);
  const until = (id: string, what: string, ok: (s: StatusBody) => boolean, ms = 120_000) =>
    waitFor(`${what} (job ${id})`, async () => { const s = await status(id); return ok(s) ? s : undefined; }, ms);

  it('maps COMPLETED, FAILED (exit 3), CANCELLED, TIMEOUT, OUT_OF_MEMORY, held PENDING and SUSPENDED', async () => {
    const ids = {
      completed: await sbatch("-J st-ok -o /dev/null --wrap 'sleep 1'"),
      failed: await sbatch("-J st-fail -o /dev/null --wrap 'exit 3'"),
      cancelled: await sbatch("-J st-cancel -o /dev/null --wrap 'sleep 300'"),
      timeout: await sbatch("-J st-timeout --time=1 -o /dev/null --wrap 'sleep 300'"),
      oom: await sbatch("-J st-oom --mem=100M -o /dev/null --wrap '/usr/bin/python3 /tmp/caesar-oom.py'"),
      held: await sbatch("-H -J st-held -o /dev/null --wrap true"),
      suspended: await sbatch("-J st-suspend -o /dev/null --wrap 'sleep 300'"),
    };
    const jobs = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([k, v]) => [k, await trackSlurmJob(gw.gateway, v)] as const)));

    const held = await until(jobs.held!, 'held job pending with its reason', (s) => s.slurm.reason === 'JobHeldUser');
    expect(held.state).to.equal('PENDING');
    expect(held.status).to.contain('reason: JobHeldUser');

    await until(jobs.cancelled!, 'running', (s) => s.state === 'RUNNING');
    await asClusterUser(`scancel ${ids.cancelled}`);
    await until(jobs.timeout!, 'running', (s) => s.state === 'RUNNING');
    await asClusterUser(`scontrol update jobid=${ids.timeout} TimeLimit=0`);
    await until(jobs.suspended!, 'running', (s) => s.state === 'RUNNING');
    await asRoot('scontrol', ['suspend', ids.suspended]);
    const suspended = await until(jobs.suspended!, 'suspended', (s) => s.slurm.state === 'SUSPENDED');
    expect(suspended.state).to.equal('RUNNING');
    expect(suspended.status).to.contain('suspended');
    await asRoot('scontrol', ['resume', ids.suspended]);
    await asClusterUser(`scancel ${ids.suspended}`);

    const expectations: Array<[keyof typeof ids, string, RegExp, number | null]> = [
      ['completed', 'SUCCESS', /completed with success/, 0],
      ['failed', 'FAILURE', /exit code 3:0/, 3],
      ['cancelled', 'CANCELED', /canceled by uid \d+/, 0],
      ['timeout', 'TIMED-OUT', /time limit reached/, 0],
      ['oom', 'FAILURE', /out of memory/, null],
      ['suspended', 'CANCELED', /canceled/, 0],
    ];
    for (const [key, state, words, exitCode] of expectations) {
      const final = await until(jobs[key]!, state, (s) => !['PENDING', 'RUNNING', 'UNKNOWN'].includes(s.state));
      expect(final.state, key).to.equal(state);
      expect(final.status, key).to.match(words);
      expect(final.exit_code, key).to.equal(exitCode);
      expect(final.slurm.state!.split(' ')[0], key).to.equal((await slurmState(ids[key])).split(' ')[0]);
    }
    await asClusterUser(`scancel ${ids.held}`);
    expect((await until(jobs.held!, 'cancelled', (s) => s.state === 'CANCELED')).state).to.equal('CANCELED');
  });

  it('maps NODE_FAIL, after waiting out the requeue window', async () => {
    const id = await sbatch("--no-requeue -J st-nodefail -o /dev/null --wrap 'sleep 300'");
    const job = await trackSlurmJob(gw.gateway, id);
    await until(job, 'running', (s) => s.state === 'RUNNING');
    const node = connection().slurmNode;
    await asRoot('scontrol', ['update', `nodename=${node}`, 'state=down', 'reason=caesar-gateway-test']);
    try {
      const waiting = await until(job, 'NODE_FAIL seen', (s) => s.slurm.state === 'NODE_FAIL');
      if (waiting.state !== 'FAILURE') expect(waiting.status).to.match(/requeue/);
      const final = await until(job, 'final', (s) => s.state === 'FAILURE');
      expect(final.status).to.contain('node failure');
    } finally {
      // ReturnToService=2 may have brought the node back already; then 'resume' is refused.
      await asRoot('scontrol', ['update', `nodename=${node}`, 'state=resume']).catch(() => undefined);
      await waitFor('node back', async () => (/idle|mixed|alloc/.test(await asRoot('sinfo', ['-h', '-n', node, '-o', '%T'])) ? true : undefined), 30_000);
      await sleep(500);
    }
  });
});
