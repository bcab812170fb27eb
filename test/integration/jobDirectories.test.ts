// Job directories made ahead on the real cluster (JobDirectoryPool): a job accepted once the pool
// is filled gets an id whose directory existed before the job did, its submission still works,
// and the directories no job took are gone after shutdown.
import { expect } from 'chai';
import { syntheticImage } from '../support/syntheticFits.ts';
import { asClusterUser, connection } from '../support/cluster.ts';
import { postJson, startTestGateway, uploadBytes, waitForStatus, type TestGateway } from '../support/testGateway.ts';

const jobsDir = () => `${connection().remoteRoot}/jobs`;

/** Names of the entries of the cluster's jobs directory. */
async function jobDirectories(): Promise<Set<string>> {
  const out = await asClusterUser(`mkdir -p ${jobsDir()} && ls -1 ${jobsDir()}`);
  return new Set(out.split('\n').filter(Boolean));
}

describe('job directories made ahead on the local cluster', function () {
  this.timeout(120_000);
  let gw: TestGateway | undefined;
  after(async () => {
    await gw?.stop();
  });

  it('hands new jobs ids whose directories exist already, and removes the unused ones at shutdown', async () => {
    const before = await jobDirectories();
    gw = await startTestGateway();
    const upload = await uploadBytes(gw, syntheticImage({ width: 64, height: 64 }).bytes, 'pool.fits');
    const { uuid } = (await upload.json()) as { uuid: string };
    const submit = async () => {
      const res = await postJson(gw!, '/job', { app: 'caesar', data_inputs: uuid, job_inputs: { 'no-mpi': true } }, { prefer: 'wait=30' });
      expect(res.status).to.equal(202);
      const body = (await res.json()) as { job_id: string; pid: string | null };
      expect(body.pid, 'Slurm id in the answer').to.match(/^\d+$/);
      return body.job_id;
    };

    // The first job finds the pool empty: its submission makes its own directory, then fills the pool.
    const first = await submit();
    await gw.gateway.submitter.idle();
    expect(gw.gateway.jobDirectories.readyCount('local')).to.be.at.least(16);
    const madeAhead = [...await jobDirectories()].filter((name) => !before.has(name) && name !== first);
    expect(madeAhead.length).to.equal(gw.gateway.jobDirectories.readyCount('local'));

    const second = await submit();
    expect(madeAhead, 'the second job took a directory made before it was accepted').to.include(second);
    for (const id of [first, second]) {
      const final = await waitForStatus(gw, id, (s) => s.state === 'SUCCESS' || s.state === 'FAILURE');
      expect(final.state, `job ${id}`).to.equal('SUCCESS');
    }

    await gw.stop();
    gw = undefined;
    const after = await jobDirectories();
    const left = [...after].filter((name) => !before.has(name));
    expect(left.sort()).to.deep.equal([first, second].sort());
  });
});
