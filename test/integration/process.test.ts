// The gateway as deployed: scripts/start-gateway.sh (which execs `node --import tsx src/main.ts`)
// in a child process. Its stdout must be JSON log lines that carry the request id and never a
// credential, and SIGTERM must be graceful: stop accepting, let a slow download finish, close
// everything, exit 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { expect } from 'chai';
import { spawnGateway } from '../support/gatewayLauncher.ts';
import { syntheticImage } from '../support/syntheticFits.ts';
import { API } from '../support/testGateway.ts';

interface LogLine { level: number; time: number; msg: string; requestId?: string; [key: string]: unknown }

const ROOT = path.resolve(import.meta.dirname, '../..');

class GatewayProcess {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  private waiters: Array<{ test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  exit: Promise<{ code: number | null; signal: string | null; at: number }>;

  constructor(readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.raw.push(text);
        const line = JSON.parse(text) as LogLine;
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.raw.push(`stderr: ${chunk}`));
    this.exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null, at: Date.now() }));
  }

  waitFor(test: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such log line within ${timeoutMs} ms; output:\n${this.raw.join('\n')}`)), timeoutMs);
      this.waiters.push({ test, resolve: (l) => { clearTimeout(timer); resolve(l); } });
    });
  }
}

/** A GET whose body is read only when the test says so (a slow client). */
function slowGet(url: string): Promise<{ res: http.IncomingMessage; first: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      res.once('data', (first: Buffer) => {
        res.pause();
        resolve({ res, first });
      });
    }).on('error', reject);
  });
}

describe('the gateway process: JSON logs with request ids, graceful shutdown on SIGTERM', function () {
  this.timeout(120_000);
  let dataDir: string;
  let gateway: GatewayProcess;
  let base: string;
  // Large enough that the download cannot sit whole in socket buffers while the client waits.
  const image = syntheticImage({ width: 2048, height: 4096, sources: [] });

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'caesar-process-test-'));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAESAR_GATEWAY_')));
    const child = spawnGateway(
      { ...env, PORT: '0', HOST: '127.0.0.1', CAESAR_GATEWAY_DATA_DIR: dataDir, CAESAR_GATEWAY_LOG_LEVEL: 'info', CAESAR_GATEWAY_POLL_SCHEDULE: '* * * * * *' },
      ['ignore', 'pipe', 'pipe'],
    );
    gateway = new GatewayProcess(child);
    const started = await gateway.waitFor((l) => l.msg.startsWith('caesar-gateway listening'));
    base = `http://127.0.0.1:${String(started.port)}`;
  });
  after(async () => {
    if (gateway?.child.exitCode === null) {
      gateway.child.kill('SIGKILL');
      await gateway.exit;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  let uploaded: string;

  it('is node itself under scripts/start-gateway.sh (signals reach it), with glibc\'s malloc trim threshold set', () => {
    expect(readlinkSync(`/proc/${gateway.child.pid}/exe`)).to.equal(realpathSync(process.execPath));
    const environ = readFileSync(`/proc/${gateway.child.pid}/environ`, 'utf8').split('\0');
    expect(environ.find((v) => v.startsWith('GLIBC_TUNABLES='))).to.match(/glibc\.malloc\.trim_threshold=134217728$/);
    expect(gateway.lines.filter((l) => l.msg.includes('start-gateway.sh'))).to.deep.equal([]);
  });

  it('started without the script, it warns that uploads will cost more CPU', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAESAR_GATEWAY_') && k !== 'GLIBC_TUNABLES'));
    const bare = new GatewayProcess(spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...env, PORT: '0', HOST: '127.0.0.1', CAESAR_GATEWAY_DATA_DIR: mkdtempSync(path.join(dataDir, 'bare-')), CAESAR_GATEWAY_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    try {
      const warning = await bare.waitFor((l) => l.msg.includes('start-gateway.sh'));
      expect(warning.level).to.equal(40);
      expect(warning.msg).to.include('malloc trim threshold');
    } finally {
      bare.child.kill('SIGKILL');
      await bare.exit;
    }
  });

  it('logs each request as one JSON line with its request id, method, route, status and duration — and no credential', async () => {
    const form = new FormData();
    form.append('file', new Blob([image.bytes]), 'big.fits');
    const res = await fetch(`${base}${API}/upload`, {
      method: 'POST', body: form, headers: { 'X-Request-Id': 'process-test-upload-1', Authorization: 'Bearer s3cr3t-t0ken-value' },
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get('x-request-id')).to.equal('process-test-upload-1');
    uploaded = ((await res.json()) as { uuid: string }).uuid;
    const bad = await fetch(`${base}${API}/job/not-a-job/status`, { headers: { Authorization: 'Basic dXNlcjpzM2NyM3Q=' } });
    expect(bad.status).to.equal(404);
    const badId = String(bad.headers.get('x-request-id'));

    const line = await gateway.waitFor((l) => l.requestId === 'process-test-upload-1' && l.msg === 'request completed');
    expect(line).to.include({ method: 'POST', route: `${API}/upload`, status: 200, level: 30, service: 'caesar-gateway' });
    expect(line.ms).to.be.a('number').and.above(0);
    const notFound = await gateway.waitFor((l) => l.requestId === badId && l.msg === 'request completed');
    expect(notFound).to.include({ method: 'GET', route: `${API}/job/:id/status`, status: 404 });
    expect(badId).to.match(/^[0-9a-f-]{36}$/);
    for (const text of gateway.raw) {
      expect(text).to.not.match(/s3cr3t|dXNlcjpzM2NyM3Q|authorization/i);
    }
  });

  it('on SIGTERM stops accepting, finishes a slow download, closes SSH and the database, and exits 0', async () => {
    const { res, first } = await slowGet(`${base}${API}/download/${uploaded}`);
    expect(res.statusCode).to.equal(200);
    const chunks = [first];
    const sentAt = Date.now();
    gateway.child.kill('SIGTERM');
    await gateway.waitFor((l) => l.msg.startsWith('shutdown: no longer accepting'));
    // New connections are refused while the download is still in flight.
    // On a connection of its own: fetch could reuse a keep-alive socket the server has just closed.
    const refused = await new Promise<string>((resolve) => {
      http.get(`${base}/healthz`, { agent: false }, (r) => { r.resume(); resolve('answered'); })
        .on('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
    });
    expect(refused).to.equal('ECONNREFUSED');
    await new Promise((r) => setTimeout(r, 1000));
    expect(gateway.child.exitCode, 'exited while a download was in flight').to.equal(null);
    // The client reads the rest: every byte arrives.
    res.on('data', (c: Buffer) => chunks.push(c));
    res.resume();
    await once(res, 'end');
    const received = Buffer.concat(chunks);
    expect(received.length).to.equal(image.bytes.length);
    expect(createHash('sha256').update(received).digest('hex')).to.equal(createHash('sha256').update(image.bytes).digest('hex'));
    const exit = await gateway.exit;
    expect(exit).to.include({ code: 0, signal: null });
    expect(exit.at - sentAt).to.be.below(10_000);
    const steps = [
      'shutting down', 'shutdown: no longer accepting', 'shutdown: requests finished', 'shutdown: background cycle finished',
      'shutdown: submissions and collections finished', 'shutdown: SSH connections closed', 'shutdown: database closed', 'caesar-gateway stopped',
    ];
    const order = steps.map((step) => gateway.lines.findIndex((l) => l.msg.startsWith(step)));
    expect(order.every((i) => i >= 0), `missing steps: ${steps.filter((_, i) => order[i]! < 0).join(', ')}`).to.equal(true);
    expect([...order].sort((a, b) => a - b), gateway.raw.join("\n")).to.deep.equal(order);
    const download = gateway.lines.find((l) => l.msg === 'request completed' && l.route === `${API}/download/:uuid`);
    expect(download, 'the download was logged as completed').to.not.equal(undefined);
  });
});
