// 4. Upload: throughput and memory of the gateway while it receives a large FITS upload
// (multipart, streamed by the client), against writing the same bytes with `cat > file`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, statfsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_WRITE_BYTES } from '../src/uploads/uploadFileSink.ts';
import { ApiClient } from './lib/api.ts';
import { withCleanup } from './lib/cleanup.ts';
import { run as runProgram } from './lib/cluster.ts';
import { largeFits, type LargeFits } from './lib/fits.ts';
import { startNginxBodyWriter } from './lib/nginxBodyWriter.ts';
import { benchTempDir, metricSum, startGatewayProcess, startHelperServer, type GatewayProcess } from './lib/gateway.ts';
import { figure, type Benchmark, type BenchmarkBody } from './lib/report.ts';
import { fmt, nowMs, sleep, summarize } from './lib/stats.ts';
import { benchConfig } from './config.ts';

const settings = benchConfig.upload;
const MiB = 1024 ** 2;
const SAMPLE_EVERY_MS = 50;
/** A second, smaller upload: RSS growth should not depend on the size. */
const SMALL_MIB = 128;
/**
 * The pause before each measured upload. This VM hands memory the guest frees back to the host
 * within seconds, and the next write into fresh page cache faults it in again, at a high cost
 * (see memoryProbe()). Back to back, whoever runs next starts on the memory the previous run's
 * deleted file left, still backed, and the faster writer finishes before it is reclaimed: the
 * comparison would reward speed twice. After this pause every run starts from the same state.
 */
const SETTLE_MS = 10_000;

interface UploadRun {
  seconds: number;
  /** The gateway's CPU use during the upload, in cores. */
  cores: number;
  /** Peak RSS during the upload minus RSS just before it, bytes. */
  growth: number;
  before: number;
  /** Full (mark-compact) collections in the gateway during the upload. */
  fullGcs: number;
  /** The event loop's longest delay during the upload, ms (the upload itself is on a thread). */
  loopDelayMaxMs: number;
}

/** The multipart body around the file's bytes, streamed; returns the gateway's answer. */
function postMultipart(url: string, file: LargeFits): Promise<{ status: number; body: string }> {
  const boundary = `----caesar-bench-${Date.now()}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench-large.fits"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + file.size + tail.length },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    function* body() {
      yield head;
      yield* file.chunks();
      yield tail;
    }
    pipeline(Readable.from(body()), req).catch(reject);
  });
}

/** The gateway's figures an upload is judged by, from one read of /metrics. */
async function uploadCounters(gateway: GatewayProcess): Promise<{ fullGcs: number; loopDelayMaxMs: number }> {
  const text = await gateway.metrics();
  return {
    // prom-client's GC histogram, kind "major"
    fullGcs: metricSum(text, 'caesar_process_nodejs_gc_duration_seconds_count', { kind: 'major' }),
    // prom-client resets its event-loop delay histogram at every read: this is the maximum since
    // the read before the upload
    loopDelayMaxMs: metricSum(text, 'caesar_process_nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

async function gatewayUpload(gateway: GatewayProcess, api: ApiClient, file: LargeFits): Promise<UploadRun> {
  const countersBefore = await uploadCounters(gateway);
  gateway.resetPeak();
  const before = gateway.memory().rss;
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, gateway.memory().rss); }, SAMPLE_EVERY_MS);
  const cpuBefore = gateway.cpuSeconds();
  const started = nowMs();
  try {
    const answer = await postMultipart(api.url('/upload'), file);
    const seconds = (nowMs() - started) / 1000;
    const cores = (gateway.cpuSeconds() - cpuBefore) / seconds;
    peak = Math.max(peak, gateway.memory().peak);
    const uploaded = JSON.parse(answer.body) as { uuid?: string; size?: number; status?: string };
    if (answer.status !== 200 || !uploaded.uuid) throw new Error(`upload failed (${answer.status}): ${answer.body.slice(0, 300)}`);
    if (Math.round((uploaded.size ?? 0) * 1e6) !== file.size) throw new Error(`upload stored ${uploaded.size} MB, sent ${file.size} bytes`);
    const countersAfter = await uploadCounters(gateway);
    const fullGcs = countersAfter.fullGcs - countersBefore.fullGcs;
    await api.deleteFile(uploaded.uuid);
    return { seconds, cores, growth: peak - before, before, fullGcs, loopDelayMaxMs: countersAfter.loopDelayMaxMs };
  } finally {
    clearInterval(sampler);
  }
}

/** Diagnostic: the same multipart body into a server that is not the gateway; seconds. */
async function diagnosticUpload(port: number, file: LargeFits): Promise<number> {
  const started = nowMs();
  const answer = await postMultipart(`http://127.0.0.1:${port}/`, file);
  const seconds = (nowMs() - started) / 1000;
  if (answer.status !== 200) throw new Error(`diagnostic upload server on port ${port}: ${answer.status} ${answer.body}`);
  return seconds;
}

/** Diagnostic: bench/bareUpload.ts (Node http writing the raw body to `target`, or dropping it). */
async function bareNodeUpload(port: number, target: string, file: LargeFits): Promise<number> {
  try {
    return await diagnosticUpload(port, file);
  } finally {
    rmSync(target, { force: true });
  }
}

async function catUpload(dir: string, file: LargeFits): Promise<number> {
  const target = path.join(dir, 'cat-copy.fits');
  const child = spawn('sh', ['-c', 'cat > "$1"', 'sh', target], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = once(child, 'exit');
  const started = nowMs();
  await pipeline(Readable.from(file.chunks()), child.stdin);
  const [code] = await exited as [number | null];
  const seconds = (nowMs() - started) / 1000;
  rmSync(target, { force: true });
  if (code !== 0) throw new Error(`cat exited with ${code}`);
  return seconds;
}

/** The VM's memory effect itself: dd writing the file's size right after that much was freed,
 *  and again after SETTLE_MS. Seconds, [right after, after the pause]. */
async function memoryProbe(dir: string, mib: number): Promise<[number, number]> {
  const target = path.join(dir, 'memory-probe.bin');
  const dd = async () => {
    const started = nowMs();
    const { code, stderr } = await runProgram('dd', ['if=/dev/zero', `of=${target}`, 'bs=1M', `count=${mib}`]);
    if (code !== 0) throw new Error(`dd exited with ${code}: ${stderr.trim()}`);
    const seconds = (nowMs() - started) / 1000;
    rmSync(target, { force: true });
    return seconds;
  };
  await flushDirtyPages();
  await dd();
  const rightAfter = await dd();
  await sleep(SETTLE_MS);
  return [rightAfter, await dd()];
}

async function flushDirtyPages(): Promise<void> {
  const { code, stderr } = await runProgram('sync', []);
  if (code !== 0) throw new Error(`sync exited with ${code}: ${stderr.trim()}`);
}

async function run(): Promise<BenchmarkBody> {
  return withCleanup(async (cleanup) => {
    const file = largeFits(settings.mib * MiB);
    const dir = benchTempDir(cleanup, 'upload');
    const { bavail, bsize } = statfsSync(dir);
    const free = bavail * bsize;
    if (free < 2 * file.size + 2 * 1024 * MiB) {
      throw new Error(`not enough free space in ${dir}: ${fmt(free / MiB)} MiB free, ${fmt((2 * file.size) / MiB + 2048)} MiB needed`);
    }
    const gateway = await startGatewayProcess(cleanup, { env: { CAESAR_GATEWAY_MAX_UPLOAD_BYTES: String(file.size + 1024 * MiB) } });
    const api = new ApiClient(gateway.base);
    const startRss = gateway.memory().rss;
    await gatewayUpload(gateway, api, largeFits(16 * MiB)); // warm-up: the upload path's code and buffers
    await catUpload(dir, largeFits(16 * MiB));

    const bareTarget = path.join(dir, 'bare-node-upload.bin');
    const bare = await startHelperServer(cleanup, 'bench/bareUpload.ts', { BENCH_UPLOAD_FILE: bareTarget });
    const receiveOnly = await startHelperServer(cleanup, 'bench/bareUpload.ts', { BENCH_UPLOAD_DISCARD: '1' });
    const nginx = await startNginxBodyWriter(cleanup);

    const g: UploadRun[] = [];
    const c: number[] = [];
    const n: number[] = [];
    const received: number[] = [];
    const viaNginx: number[] = [];
    const small: UploadRun[] = [];
    const smallFile = largeFits(SMALL_MIB * MiB);
    const variants = [
      async () => { g.push(await gatewayUpload(gateway, api, file)); small.push(await gatewayUpload(gateway, api, smallFile)); },
      async () => { c.push(await catUpload(dir, file)); },
      async () => { n.push(await bareNodeUpload(bare.port, bareTarget, file)); },
      async () => { received.push(await bareNodeUpload(receiveOnly.port, bareTarget, file)); },
      ...(nginx ? [async () => { viaNginx.push(await diagnosticUpload(nginx.port, file)); }] : []),
    ];
    for (let rep = 0; rep < settings.reps; rep += 1) {
      for (let k = 0; k < variants.length; k += 1) {
        // Each variant starts with no dirty pages left by the one before: 2 GiB written and deleted
        // unsynced leaves the kernel's writeback (and its throttling) to whichever runs next.
        await flushDirtyPages();
        await sleep(SETTLE_MS);
        await variants[(rep + k) % variants.length]!();
      }
    }
    const [probeWarm, probeSettled] = await memoryProbe(dir, settings.mib);
    const mibps = (seconds: number) => file.size / MiB / seconds;
    const gatewayMiBps = g.map((r) => mibps(r.seconds));
    const catMedian = summarize(c.map(mibps)).median;
    const nginxMedian = summarize(viaNginx.map(mibps)).median;
    const reps = `${settings.reps}, rotating order`;
    return {
      baseline: '`sh -c \'cat > file\'` fed the same byte stream through a pipe, into the same file system.',
      method: [
        `A ${fmt(file.size / MiB)} MiB FITS file (valid header, float32 image) is generated as a stream of 1 MiB chunks (never held in memory) and sent ` +
        'as `multipart/form-data` with a Content-Length by a Node http client to `POST /upload` of the gateway running as a child process ' +
        '(`CAESAR_GATEWAY_MAX_UPLOAD_BYTES` above the size). Time: first byte sent → answer received (the file is on disk, checked as FITS ' +
        'and recorded). The same stream is piped into `cat > file` for the baseline. ' +
        `The gateway's RSS is read from /proc/<pid>/status every ${SAMPLE_EVERY_MS} ms, and VmHWM (reset with \`echo 5 > /proc/<pid>/clear_refs\` before each upload) ` +
        'catches a peak between samples; growth = peak − RSS just before the upload. Each uploaded file is deleted through the API afterwards. ' +
        'One 16 MiB upload warms the path up first. Before every measured upload (gateway, `cat` or the diagnostic) `sync` flushes the dirty pages ' +
        'the previous one left, so none of them pays for another\'s writeback, and then ' + `${SETTLE_MS / 1000} s pass, so that each starts with the machine's memory in the same state (see the notes). ` +
        'Diagnostic: the same multipart body sent to a bare Node http server (bench/bareUpload.ts, ' +
        'its own child process) that writes the raw body to a file through a plain fs write stream (8 MiB buffer, its writes on libuv\'s thread pool) — ' +
        'no multipart parsing or FITS check, but the usual Node way of writing, where the gateway\'s event loop only reads the socket and hands the bytes ' +
        `to an upload thread that parses the body and writes the file in writes of at most ${MAX_WRITE_BYTES / 1024} KiB (src/uploads/uploadThreads.ts, uploadFileSink.ts); ` +
        'and the same server reading the body and dropping it (no file at all): the socket receive alone, a ceiling for any Node HTTP upload here. ' +
        'Last diagnostic: Debian\'s nginx (bench/lib/nginxBodyWriter.ts) receiving the same body and writing it whole to a file ' +
        '(`client_body_in_file_only`, 128 KiB body buffer), answering once it is on disk: an HTTP receiver written in C, on the same machine.',
      ],
      figures: [
        figure('throughput, MiB/s (higher is better)', gatewayMiBps, c.map(mibps),
          { target: 'ratio ≥ 0.5', check: (_g, r) => r !== undefined && r >= 0.5, repetitions: reps }),
        // The machine's speed drifts over minutes; a gateway run and the cat run of the same round
        // (at most a minute apart) share more of it than the medians of all runs do.
        figure('diagnostic: gateway / `cat` within each round of the rotation, ratio', gatewayMiBps.map((m, i) => m / mibps(c[i]!)), undefined,
          { repetitions: reps }),
        figure('diagnostic: gateway vs a bare Node http server writing the raw body to a file, MiB/s', gatewayMiBps, n.map(mibps),
          { repetitions: reps }),
        figure('diagnostic: gateway vs a bare Node http server reading the body into nothing (receive alone), MiB/s', gatewayMiBps, received.map(mibps),
          { repetitions: reps }),
        ...(nginx ? [figure('diagnostic: gateway vs nginx writing the request body to a file (an HTTP receiver in C), MiB/s', gatewayMiBps, viaNginx.map(mibps), { repetitions: reps })] : []),
        figure('gateway CPU during the upload, cores (diagnostic)', g.map((r) => r.cores), undefined, { repetitions: reps }),
        figure('gateway full (mark-compact) garbage collections during the upload (diagnostic; see src/main.ts)', g.map((r) => r.fullGcs), undefined,
          { repetitions: reps }),
        figure('gateway event loop\'s longest delay during the upload, ms (diagnostic: what any other request could have waited)',
          g.map((r) => r.loopDelayMaxMs), undefined, { repetitions: reps }),
        figure('gateway RSS growth during the upload, MiB', g.map((r) => r.growth / MiB), undefined,
          { target: '< 64 MiB', check: (s) => s.max < 64, repetitions: reps }),
        figure(`gateway RSS growth during a ${SMALL_MIB} MiB upload (same size independence check), MiB`, small.map((r) => r.growth / MiB), undefined,
          { target: '< 64 MiB', check: (x) => x.max < 64, repetitions: reps }),
        figure('gateway RSS just before the upload, MiB', g.map((r) => r.before / MiB), undefined, { repetitions: reps }),
      ],
      notes: [
        nginx
          ? `nginx writing the body to a file, against \`cat > file\`: ${fmt(nginxMedian)} vs ${fmt(catMedian)} MiB/s, ` +
            `ratio ${fmt(nginxMedian / catMedian, 2)} (medians).`
          : 'nginx is not installed (scripts/ensure-deploy-tools.sh installs it): its diagnostic was left out of this run.',
        `Gateway RSS right after start-up: ${fmt(startRss / MiB)} MiB.`,
        `Why the ${SETTLE_MS / 1000} s pause: this VM gives memory the guest frees back to its host within seconds, and writing into fresh page cache ` +
        `then faults it in again. \`dd\` writing ${fmt(settings.mib)} MiB right after as much was freed took ${fmt(probeWarm)} s; ` +
        `after a ${SETTLE_MS / 1000} s pause, ${fmt(probeSettled)} s. Back to back, each run would start on the memory its predecessor's deleted file left ` +
        'and the faster writer would finish before it is reclaimed.',
      ],
    };
  });
}

export const upload: Benchmark = { key: 'upload', id: '4', title: 'Upload', run };
