// The seed README's curl requests (caesar-rest v1.0, early form), replayed with real curl as they
// are written there — only host and port adjusted, file names and ids filled in.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { syntheticImage } from '../support/syntheticFits.ts';
import { readTarGz } from '../support/tarball.ts';
import { finishedWithOutput, startTestGateway, waitForStatus, type TestGateway } from '../support/testGateway.ts';

// Asynchronous: the gateway answering curl runs in this same process.
async function curl(args: string[], cwd: string): Promise<string> {
  const { stdout } = await promisify(execFile)('curl', ['-s', ...args], { cwd });
  return stdout;
}

describe("seed README's curl requests", function () {
  this.timeout(120_000);
  let gw: TestGateway;
  let work: string;

  before(async () => {
    gw = await startTestGateway();
    work = mkdtempSync(path.join(os.tmpdir(), 'caesar-seed-'));
    writeFileSync(path.join(work, 'VGPS_cont_MOS017.fits'), syntheticImage().bytes);
  });
  after(async () => {
    await gw?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('upload → job → status → output → download-id → cancel', async () => {
    const api = `${gw.base}/caesar/api/v1.0`;
    const upload = JSON.parse(await curl(['-X', 'POST', '-H', 'Content-Type: multipart/form-data', '-F', 'file=@VGPS_cont_MOS017.fits', `${api}/upload`], work)) as { uuid: string; path: string; status: string };
    expect(upload.status).to.equal('File uploaded with success');

    // As written, with its envfile: this cluster allows none, and the answer says so.
    const withEnvfile = `{"app":"sfinder","job_inputs":{"inputfile":"${upload.path}","run":true,"no-logredir":true,"envfile":"/home/riggi/Software/setvars.sh","no-mpi":true,"no-nestedsearch":true,"no-extendedsearch":true}}`;
    const refused = JSON.parse(await curl(['-X', 'POST', '-H', 'Content-Type: application/json', '-d', withEnvfile, `${api}/job`], work)) as { status: string };
    expect(refused.status).to.match(/option 'envfile'.*allows no envfiles/);

    const request = `{"app":"sfinder","job_inputs":{"inputfile":"${upload.path}","run":true,"no-logredir":true,"no-mpi":true,"no-nestedsearch":true,"no-extendedsearch":true}}`;
    const job = JSON.parse(await curl(['-X', 'POST', '-H', 'Content-Type: application/json', '-d', request, `${api}/job`], work)) as { job_id: string; status: string };
    expect(job.status).to.equal('Job submitted with success');
    await waitForStatus(gw, job.job_id, finishedWithOutput);

    const status = JSON.parse(await curl(['-X', 'GET', `${api}/job/${job.job_id}/status`], work)) as { state: string; exit_status: number };
    expect(status).to.include({ state: 'SUCCESS', exit_status: 0 });

    await curl(['-X', 'GET', `${api}/job/${job.job_id}/output`, '--output', 'job_output.tar.gz'], work);
    const { readFileSync } = await import('node:fs');
    const entries = await readTarGz(readFileSync(path.join(work, 'job_output.tar.gz')));
    expect(entries.has('catalog-VGPS_cont_MOS017.dat')).to.equal(true);

    await curl(['-X', 'GET', `${api}/download-id/${upload.uuid}`, '--output', 'downloaded.fits'], work);
    expect(readFileSync(path.join(work, 'downloaded.fits')).equals(readFileSync(path.join(work, 'VGPS_cont_MOS017.fits')))).to.equal(true);

    const cancel = JSON.parse(await curl(['-X', 'POST', `${api}/job/${job.job_id}/cancel`], work)) as { status: string };
    expect(cancel.status).to.contain('already finished');
  });
});
