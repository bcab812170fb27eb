// A submission in two halves on the real cluster (SlurmScheduler.prepare, then submitPrepared
// written right behind it): sbatch runs only if the job directory was written, and a shell lost in
// between falls back to the one-command submission.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SubmissionRejectedError, type SubmissionFiles } from '../../src/scheduler/scheduler.ts';
import { SlurmScheduler } from '../../src/scheduler/slurm/slurmScheduler.ts';
import { asClusterUser, asRoot, clusterSshConnection, connection, sleep, slurmJobsNamed } from '../support/cluster.ts';

const SCRIPT = '#!/bin/sh\n#SBATCH --output=/dev/null\ntrue\n';

describe('prepared submissions on the local cluster', function () {
  this.timeout(60_000);
  let scheduler: SlurmScheduler;
  const root = `/home/${connection().user}/caesar-gateway-test-prepared`;
  const submitted: string[] = [];

  before(() => {
    scheduler = new SlurmScheduler({
      cluster: 'prepared-test', user: connection().user, ssh: clusterSshConnection('prepared-test'), commandTimeoutMs: 30_000, idChunkSize: 100,
    });
  });
  after(async () => {
    for (const id of submitted) await scheduler.cancel(id).catch(() => undefined);
    await asClusterUser(`rm -rf ${root}`);
    await scheduler.close();
  });

  function submission(): SubmissionFiles {
    const name = `cg-test-${randomUUID()}`;
    return { jobDir: `${root}/${name}`, files: { 'config.cfg': 'a = 1\n', 'job.sbatch': SCRIPT }, links: { 'in.fits': '/etc/hostname' }, scriptName: 'job.sbatch', jobName: name };
  }

  /** Every job Slurm knows by this name, live or accounted. */
  async function jobsNamed(name: string): Promise<string[]> {
    const live = (await asRoot('squeue', ['-h', '-t', 'all', '-n', name, '-o', '%i'])).split('\n').filter(Boolean);
    const accounted = (await slurmJobsNamed(name)).map((j) => j.id);
    return [...new Set([...live, ...accounted])];
  }

  it('writes the directory, then submits it with the sbatch issued before the write was answered', async () => {
    const sub = submission();
    const prepared = scheduler.prepare(sub);
    const id = await scheduler.submitPrepared(sub, prepared);
    submitted.push(id);
    await prepared.written;
    expect(id).to.match(/^\d+$/);
    expect(await asClusterUser(`cd ${sub.jobDir} && cat config.cfg && readlink in.fits`)).to.equal('a = 1\n/etc/hostname');
    expect(await jobsNamed(sub.jobName)).to.deep.equal([id]);
  });

  it('runs no sbatch when the directory could not be written, even with a script left from an earlier attempt', async () => {
    const sub = submission();
    // An earlier attempt's script is there, and the config cannot be written (its name is taken by
    // a directory): without the check on the cluster, the sbatch behind would submit the old script.
    await asClusterUser(`mkdir -p ${sub.jobDir}/config.cfg && printf '%s' '${SCRIPT}' > ${sub.jobDir}/job.sbatch`);
    const prepared = scheduler.prepare(sub);
    let error: unknown;
    await scheduler.submitPrepared(sub, prepared).catch((err: unknown) => { error = err; });
    expect(error).to.be.instanceOf(SubmissionRejectedError);
    expect((error as Error).message).to.match(/could not write the job directory: .*config\.cfg/);
    await sleep(1000); // time for a job that should not exist to reach accounting
    expect(await jobsNamed(sub.jobName)).to.deep.equal([]);
  });

  it('submits in one command when the shell that ran the prepare is gone before the sbatch', async () => {
    const sub = submission();
    const prepared = scheduler.prepare(sub);
    await prepared.written;
    // The resident shell dies (as when sshd drops the session): its kept status goes with it.
    await asClusterUser("pkill -KILL -u \"$(id -u)\" -f '^/bin/sh -s$'");
    await sleep(500); // the channel's end reaches the gateway, which starts a new shell
    const id = await scheduler.submitPrepared(sub, prepared);
    submitted.push(id);
    expect(id).to.match(/^\d+$/);
    expect(await jobsNamed(sub.jobName)).to.deep.equal([id]);
  });
});
