// The whole path on the real local cluster: upload → sfinder job over SSH → Slurm → status →
// tar.gz, through HTTP. No part of Slurm or SSH is mocked.
import { expect } from 'chai';
import { asClusterUser, asRoot } from '../support/cluster.ts';
import { syntheticImage, headerOnlyFits } from '../support/syntheticFits.ts';
import { readTarGz } from '../support/tarball.ts';
import {
  finishedWithOutput, jobStatus, postJson, startTestGateway, uploadBytes, waitForStatus, type TestGateway,
} from '../support/testGateway.ts';

interface UploadBody { uuid: string; path: string; filename_orig: string }
interface CatalogueJson { nranks: number; sources: Array<{ x: number; y: number }> }

describe('job lifecycle on the local Slurm cluster', function () {
  this.timeout(180_000);
  let gw: TestGateway;
  const image = syntheticImage();

  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw?.stop();
  });

  async function upload(bytes: Buffer, name: string): Promise<UploadBody> {
    const res = await uploadBytes(gw, bytes, name);
    expect(res.status).to.equal(200);
    return (await res.json()) as UploadBody;
  }

  async function output(jobId: string) {
    const res = await fetch(gw.url(`/job/${jobId}/output`));
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-disposition')).to.contain(`job_${jobId}.tar.gz`);
    return readTarGz(Buffer.from(await res.arrayBuffer()));
  }

  it("runs the seed README's request as written and finds the injected sources", async () => {
    const file = await upload(image.bytes, 'field.fits');
    // The seed's request, with the path that upload returned, less its envfile.
    const res = await postJson(gw, '/job', {
      app: 'sfinder',
      job_inputs: { inputfile: file.path, run: true, 'no-logredir': true, 'no-mpi': true, 'no-nestedsearch': true, 'no-extendedsearch': true },
    });
    expect(res.status).to.equal(202);
    const accepted = (await res.json()) as { job_id: string; state: string; status: string };
    expect(accepted.state).to.equal('PENDING');
    expect(accepted.status).to.equal('Job submitted with success');

    const final = await waitForStatus(gw, accepted.job_id, finishedWithOutput);
    expect(final.state).to.equal('SUCCESS');
    expect(final.exit_code).to.equal(0);
    expect(final.pid).to.match(/^\d+$/);
    expect(final.slurm.state).to.equal('COMPLETED');

    const entries = await output(accepted.job_id);
    expect([...entries.keys()]).to.include.members(['job.sbatch', 'config_field.cfg', 'catalog-field.dat', 'catalog-field.json', 'ds9-field.reg', 'plot_field.png']);
    // CAESAR read the upload's one staged copy, which carries the upload's name (its outputs are
    // named after it): nothing was linked or copied into the job directory for it.
    expect(entries.get('config_field.cfg')!.data.toString()).to.match(new RegExp(`^inputFile = \\.\\./\\.\\./inputs/${file.uuid}/field\\.fits$`, 'm'));
    expect([...entries.keys()].filter((name) => name.endsWith('.fits'))).to.deep.equal([]);
    const remoteRoot = gw.config.clusters[0]!.remoteRoot;
    expect(await asClusterUser(`ls ${remoteRoot}/inputs/${file.uuid}`)).to.equal('field.fits');
    const catalogue = JSON.parse(entries.get('catalog-field.json')!.data.toString()) as CatalogueJson;
    for (const injected of image.sources) {
      const match = catalogue.sources.find((s) => Math.hypot(s.x - injected.x, s.y - injected.y) < 1);
      expect(match, `source injected at (${injected.x}, ${injected.y})`).to.not.equal(undefined);
    }
    expect(catalogue.sources).to.have.length(image.sources.length);
  });

  it('runs an MPI job with nproc 4 as four ranks launched by srun', async () => {
    const file = await upload(image.bytes, 'mpi.fits');
    const res = await postJson(gw, '/job', { app: 'caesar', data_inputs: file.uuid, job_inputs: { nproc: 4 } });
    expect(res.status).to.equal(202);
    const { job_id } = (await res.json()) as { job_id: string };
    const final = await waitForStatus(gw, job_id, finishedWithOutput);
    expect(final.state).to.equal('SUCCESS');
    const entries = await output(job_id);
    const script = entries.get('job.sbatch')!.data.toString();
    expect(script).to.contain('#SBATCH --ntasks-per-node=4');
    expect(script).to.match(/^srun --mpi=pmix /m);
    const log = entries.get('output_mpi.log')!.data.toString();
    const ranks = [...log.matchAll(/^rank (\d) of 4:/gm)].map((m) => Number(m[1])).sort();
    expect(ranks).to.deep.equal([0, 1, 2, 3]);
    const catalogue = JSON.parse(entries.get('catalog-mpi.json')!.data.toString()) as CatalogueJson;
    expect(catalogue.nranks).to.equal(4);
    expect(catalogue.sources).to.have.length(image.sources.length);
  });

  it('uses an input an older gateway staged as inputs/<uuid>.fits, linked into the job directory under its name', async () => {
    const file = await upload(image.bytes, 'legacy.fits');
    const cluster = gw.config.clusters[0]!;
    const legacyCopy = `${cluster.remoteRoot}/inputs/${file.uuid}.fits`;
    const { stored_path: storedPath } = (await gw.gateway.db('files').where({ id: file.uuid }).first<{ stored_path: string }>());
    await asRoot('install', ['-D', '-o', cluster.user, '-m', '644', storedPath, legacyCopy]);
    await gw.gateway.db('staged_files').insert({ file_id: file.uuid, cluster: cluster.name, remote_path: legacyCopy, staged_at: new Date().toISOString() });

    const res = await postJson(gw, '/job', { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } });
    const { job_id } = (await res.json()) as { job_id: string };
    const final = await waitForStatus(gw, job_id, finishedWithOutput);
    expect(final.state).to.equal('SUCCESS');
    const entries = await output(job_id);
    expect(entries.get('legacy.fits')!.type).to.equal('SymbolicLink');
    expect(entries.get('config_legacy.cfg')!.data.toString()).to.match(/^inputFile = legacy\.fits$/m);
    expect([...entries.keys()]).to.include.members(['catalog-legacy.dat', 'plot_legacy.png']);
    // Not staged a second time.
    expect(await asClusterUser(`test -e ${cluster.remoteRoot}/inputs/${file.uuid} && echo present || echo absent`)).to.equal('absent');
  });

  it('reports a job whose sfinder run fails as FAILURE with its exit code', async () => {
    const file = await upload(headerOnlyFits(), 'empty.fits');
    const res = await postJson(gw, '/job', { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } });
    const { job_id } = (await res.json()) as { job_id: string };
    const final = await waitForStatus(gw, job_id, finishedWithOutput);
    expect(final.state).to.equal('FAILURE');
    expect(final.exit_code).to.equal(1);
    expect(final.exit_status).to.equal(1);
    expect(final.slurm.exit_code).to.equal('1:0');
    expect(final.status).to.contain('exit code 1');
    const entries = await output(job_id);
    expect(entries.has('output_empty.log')).to.equal(true);
  });

  it('cancels a job that Slurm holds pending, and reports CANCELED', async () => {
    const file = await upload(image.bytes, 'wait.fits');
    // Fill the node first (as root, like another user would), so our job has to wait.
    const { execFileSync } = await import('node:child_process');
    const blocker = execFileSync('sbatch', ['--parsable', '--ntasks=8', '--job-name=test-blocker', '--output=/dev/null', '--wrap', 'sleep 120']).toString().trim();
    try {
      const res = await postJson(gw, '/job', { app: 'caesar', data_inputs: file.uuid, job_inputs: { 'no-mpi': true } });
      const { job_id } = (await res.json()) as { job_id: string };
      const pending = await waitForStatus(gw, job_id, (s) => s.pid !== null && s.slurm.reason !== null);
      expect(pending.state).to.equal('PENDING');
      expect(pending.status).to.match(/reason: (Resources|Priority)/);

      const cancel = await fetch(gw.url(`/job/${job_id}/cancel`), { method: 'POST' });
      expect(cancel.status).to.equal(200);
      const final = await waitForStatus(gw, job_id, finishedWithOutput);
      expect(final.state).to.equal('CANCELED');

      const again = await fetch(gw.url(`/job/${job_id}/cancel`));
      expect(again.status).to.equal(200);
      expect(((await again.json()) as { status: string }).status).to.contain('already finished (CANCELED)');
      expect((await jobStatus(gw, job_id)).state).to.equal('CANCELED');
    } finally {
      execFileSync('scancel', [blocker]);
    }
  });
});
