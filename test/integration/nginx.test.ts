// The deployment samples, for real: Debian's nginx runs deploy/nginx/caesar-gateway.conf (only
// its listen port and upstream address changed) in front of a test gateway on the local
// cluster; a FITS upload and its download, a Range request, a job run through the proxy and its
// output download all go through it byte for byte. The systemd unit is checked by systemd itself.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort } from '../support/freePort.ts';
import { syntheticImage } from '../support/syntheticFits.ts';
import { readTarGz } from '../support/tarball.ts';
import { parseMetrics, total } from '../support/metricsText.ts';
import { API, startTestGateway, type TestGateway } from '../support/testGateway.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NGINX = '/usr/sbin/nginx';

/** The sample site with only the listen address and the upstream changed (each must be there once). */
function siteFor(listenPort: number, upstreamPort: number): string {
  let site = readFileSync(path.join(ROOT, 'deploy/nginx/caesar-gateway.conf'), 'utf8');
  const replace = (from: string, to: string) => {
    expect(site.split(from), `the sample site should contain '${from}' once`).to.have.length(2);
    site = site.replace(from, to);
  };
  replace('    listen 80;\n', `    listen 127.0.0.1:${listenPort};\n`);
  replace('    listen [::]:80;\n', '');
  replace('    server 127.0.0.1:8080;\n', `    server 127.0.0.1:${upstreamPort};\n`);
  return site;
}

/** A main nginx.conf of its own (prefix, pid, logs, temp paths) that includes the site. */
function nginxConf(prefix: string, site: string): string {
  writeFileSync(path.join(prefix, 'site.conf'), site);
  for (const dir of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(path.join(prefix, dir), { recursive: true });
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/logs/error.log info;`,
    'events { worker_connections 256; }',
    'http {',
    '  include /etc/nginx/mime.types;',
    `  access_log ${prefix}/logs/access.log;`,
    `  client_body_temp_path ${prefix}/body;`,
    `  proxy_temp_path ${prefix}/proxy;`,
    `  fastcgi_temp_path ${prefix}/fastcgi;`,
    `  uwsgi_temp_path ${prefix}/uwsgi;`,
    `  scgi_temp_path ${prefix}/scgi;`,
    `  include ${prefix}/site.conf;`,
    '}',
    '',
  ].join('\n');
}

describe('deployment: the sample nginx site in front of the gateway (Debian nginx)', function () {
  this.timeout(240_000);
  let gw: TestGateway;
  let prefix: string;
  let nginx: ChildProcess;
  let nginxLog = '';
  let base: string;

  before(async function () {
    this.timeout(600_000);
    // Installs Debian's nginx (and systemd-analyze) when missing: the same script .ci/run calls.
    execFileSync('bash', [path.join(ROOT, 'scripts/ensure-deploy-tools.sh')], { stdio: 'inherit' });
    gw = await startTestGateway({ CAESAR_GATEWAY_MAX_UPLOAD_BYTES: String(12 * 1024 * 1024) });
    prefix = mkdtempSync(path.join(os.tmpdir(), 'caesar-nginx-test-'));
    chmodSync(prefix, 0o755); // nginx's workers run unprivileged
    const port = await freePort();
    const conf = path.join(prefix, 'nginx.conf');
    writeFileSync(conf, nginxConf(prefix, siteFor(port, Number(new URL(gw.base).port))));
    execFileSync(NGINX, ['-t', '-q', '-p', prefix, '-c', conf, '-e', `${prefix}/logs/error.log`]);
    nginx = spawn(NGINX, ['-p', prefix, '-c', conf, '-e', `${prefix}/logs/error.log`], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stderr!.on('data', (c: Buffer) => { nginxLog += c.toString(); });
    base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
      if (up) break;
      if (Date.now() > deadline || nginx.exitCode !== null) {
        throw new Error(`nginx did not come up: ${nginxLog}${readFileSync(`${prefix}/logs/error.log`, 'utf8')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGQUIT'); // graceful stop
      await once(nginx, 'exit');
    }
    await gw?.stop();
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  const image = syntheticImage({ width: 1024, height: 1536, sources: [{ x: 500, y: 700, peak: 0.05, sigma: 2 }] });
  let fileId: string;

  it('passes a multi-MB FITS upload through and downloads it back byte-identical, whole and by Range', async () => {
    expect(image.bytes.length).to.be.above(6_000_000);
    const form = new FormData();
    form.append('file', new Blob([image.bytes]), 'through nginx.fits');
    const res = await fetch(`${base}${API}/upload`, { method: 'POST', body: form });
    expect(res.status, await res.clone().text()).to.equal(200);
    fileId = ((await res.json()) as { uuid: string }).uuid;

    const whole = await fetch(`${base}${API}/download/${fileId}`);
    expect(whole.status).to.equal(200);
    expect(whole.headers.get('server')).to.match(/^nginx/);
    expect(whole.headers.get('content-disposition')).to.contain('through nginx.fits');
    expect(Buffer.from(await whole.arrayBuffer()).equals(image.bytes)).to.equal(true);

    const part = await fetch(`${base}${API}/download-id/${fileId}`, { headers: { range: 'bytes=1000000-1999999' } });
    expect(part.status).to.equal(206);
    expect(part.headers.get('content-range')).to.equal(`bytes 1000000-1999999/${image.bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(image.bytes.subarray(1_000_000, 2_000_000))).to.equal(true);
  });

  it('lets the gateway answer an over-limit upload with its own JSON 413', async () => {
    const form = new FormData();
    form.append('file', new Blob([syntheticImage({ width: 2048, height: 2048, sources: [] }).bytes]), 'too big.fits');
    const res = await fetch(`${base}${API}/upload`, { method: 'POST', body: form });
    expect(res.status).to.equal(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('too_large');
  });

  it('runs a job through the proxy and downloads its output byte-identical', async () => {
    const submitted = await fetch(`${base}${API}/job`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ app: 'caesar', data_inputs: fileId, job_inputs: { 'no-mpi': true } }),
    });
    expect(submitted.status).to.equal(202);
    const jobId = ((await submitted.json()) as { job_id: string }).job_id;
    const deadline = Date.now() + 180_000;
    let status: { state: string; output_available: boolean } = { state: '', output_available: false };
    while (Date.now() < deadline && !status.output_available && !['FAILURE', 'ABORTED', 'CLEARED'].includes(status.state)) {
      await new Promise((r) => setTimeout(r, 500));
      status = (await (await fetch(`${base}${API}/job/${jobId}/status`)).json()) as typeof status;
    }
    expect(status).to.include({ state: 'SUCCESS', output_available: true });
    const res = await fetch(`${base}${API}/job/${jobId}/output`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/gzip');
    const bytes = Buffer.from(await res.arrayBuffer());
    const row = await gw.gateway.jobs.find(jobId);
    expect(bytes.equals(readFileSync(row!.output_path!))).to.equal(true);
    const members = [...(await readTarGz(bytes)).keys()];
    expect(members.some((m) => m.endsWith('catalog-through_nginx.json'))).to.equal(true);
  });

  it('passes X-Request-Id through, or gives each request nginx\'s own id', async () => {
    const mine = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'via-nginx-1' } });
    expect(mine.headers.get('x-request-id')).to.equal('via-nginx-1');
    const made = await fetch(`${base}/healthz`);
    expect(made.headers.get('x-request-id')).to.match(/^[0-9a-f]{32}$/);
  });

  it('serves /metrics to the local monitoring, with the bytes that went through', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).to.equal(200);
    const m = parseMetrics(await res.text());
    expect(total(m, 'caesar_bytes_uploaded_total')).to.equal(image.bytes.length);
    expect(total(m, 'caesar_bytes_served_total', { kind: 'download' })).to.equal(image.bytes.length + 1_000_000);
    expect(total(m, 'caesar_http_requests_total', { route: `${API}/upload`, status: '413' })).to.equal(1);
  });
});

describe('deployment: the sample systemd unit', () => {
  before(function () {
    this.timeout(600_000);
    execFileSync('bash', [path.join(ROOT, 'scripts/ensure-deploy-tools.sh')], { stdio: 'inherit' });
  });

  it('is accepted by systemd-analyze verify without a warning, and stops the gateway with SIGTERM', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-unit-test-'));
    try {
      const unit = readFileSync(path.join(ROOT, 'deploy/systemd/caesar-gateway.service'), 'utf8');
      writeFileSync(path.join(dir, 'caesar-gateway.service'), unit);
      const verify = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(dir, 'caesar-gateway.service')], { encoding: 'utf8' });
      expect(verify.error).to.equal(undefined);
      expect(verify.status).to.equal(0);
      expect(`${verify.stdout}${verify.stderr}`).to.equal('');
      for (const line of ['KillSignal=SIGTERM', 'Restart=on-failure', 'Environment=HOST=127.0.0.1', 'ExecStart=/bin/sh scripts/start-gateway.sh', 'NoNewPrivileges=yes']) {
        expect(unit.split('\n')).to.include(line);
      }
      // The stop timeout leaves room for the gateway's 25 s grace period.
      expect(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1])).to.be.above(25);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
