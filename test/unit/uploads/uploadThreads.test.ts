// UploadThreads with real HTTP on loopback, real worker threads and real files: bodies arrive
// byte for byte whatever the concurrency, a thread that cannot write holds the sender back (the
// socket is not read past a bound), an early refusal leaves no file, and a thread that ends
// under an upload fails it without taking later uploads with it.
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import type { MultipartUpload } from '../../../src/uploads/multipartBody.ts';
import { UploadThreads } from '../../../src/uploads/uploadThreads.ts';

const BOUNDARY = 'thread-test-boundary';
const MiB = 1024 ** 2;

function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed + (i >> 12)) & 0xff;
  return bytes;
}

function multipartBody(content: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="tag"\r\n\r\nt1\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.fits"\r\n\r\n`),
    content,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** A server whose handler hands each request to `onRequest`; answers 200 or the error's status. */
async function startServer(onRequest: (req: IncomingMessage) => Promise<MultipartUpload>) {
  const server = http.createServer((req, res) => {
    onRequest(req).then(
      (upload) => res.end(JSON.stringify(upload)),
      (err: Error & { httpStatus?: number }) => {
        res.statusCode = err.httpStatus ?? 500;
        res.end(JSON.stringify({ message: err.message }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** POST `body` in 64 KiB chunks; the answer's status and JSON. */
function post(url: string, body: Buffer): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': body.length },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }));
    });
    req.on('error', reject);
    function* chunks() {
      for (let at = 0; at < body.length; at += 64 * 1024) yield body.subarray(at, at + 64 * 1024);
    }
    Readable.from(chunks()).pipe(req);
  });
}

describe('uploads: upload threads', function () {
  this.timeout(60_000);
  let root: string;
  let threads: UploadThreads;
  let server: http.Server | undefined;
  /** A fresh private directory per upload, as the route makes. */
  const newTempDir = () => mkdtempSync(path.join(root, 'upload-'));

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'caesar-threads-'));
    threads = new UploadThreads(2);
  });
  afterEach(async () => {
    server?.close();
    server = undefined;
    await threads.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('stores three concurrent 12 MiB uploads on two threads byte for byte', async () => {
    const contents = [1, 2, 3].map((seed) => pattern(12 * MiB + seed * 1001, seed));
    const started = await startServer((req) => threads.receive(req, { tempDir: newTempDir(), maxFileBytes: 64 * MiB }));
    server = started.server;
    const answers = await Promise.all(contents.map((content) => post(started.url, multipartBody(content))));
    answers.forEach(({ status, json }, index) => {
      expect(status).to.equal(200);
      expect(json).to.include({ originalName: 'big.fits', size: contents[index]!.length });
      expect(json.fields).to.deep.equal({ tag: 't1' });
      expect(readFileSync(json.tempPath as string).equals(contents[index]!)).to.equal(true);
    });
  });

  it('stops reading the socket while the thread cannot write, and finishes once it can', async () => {
    const tempDir = newTempDir();
    // The upload's file is a FIFO nobody reads yet: the thread's open blocks, as a write does
    // when the disk falls behind.
    execFileSync('mkfifo', [path.join(tempDir, 'upload')]);
    let request: IncomingMessage | undefined;
    const started = await startServer((req) => {
      request = req;
      return threads.receive(req, { tempDir, maxFileBytes: 256 * MiB });
    });
    server = started.server;
    const content = pattern(64 * MiB, 9);
    const answer = post(started.url, multipartBody(content));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const readWhileBlocked = request!.socket.bytesRead;
    // 8 MiB may wait for the thread, plus one 1 MiB batch and the socket's own buffers.
    expect(readWhileBlocked).to.be.above(1 * MiB).and.below(16 * MiB);
    expect(request!.isPaused()).to.equal(true);

    const received: Buffer[] = [];
    const reader = createReadStream(path.join(tempDir, 'upload'));
    reader.on('data', (chunk) => received.push(chunk as Buffer));
    const readerClosed = new Promise<void>((resolve) => reader.once('close', () => resolve()));
    const { status, json } = await answer;
    await readerClosed;
    expect(status).to.equal(200);
    expect(json).to.include({ size: content.length });
    expect(Buffer.concat(received).equals(content)).to.equal(true);
  });

  it('answers 413 while the client is still sending, with no file left behind', async () => {
    const tempDir = newTempDir();
    const started = await startServer((req) => threads.receive(req, { tempDir, maxFileBytes: 1 * MiB }));
    server = started.server;
    const { status, json } = await post(started.url, multipartBody(pattern(20 * MiB, 4)));
    expect(status).to.equal(413);
    expect(json.message).to.match(/File too large: the limit is 1048576 bytes/);
    expect(readdirSync(tempDir)).to.deep.equal([]);
  });

  it('fails the uploads on a thread that ends under them, and takes later uploads on a new thread', async () => {
    let calls = 0;
    const started = await startServer((req) => {
      calls += 1;
      const upload = threads.receive(req, { tempDir: newTempDir(), maxFileBytes: 64 * MiB });
      // The first upload's threads are ended while its body is still arriving.
      if (calls === 1) setTimeout(() => void threads.close(), 50);
      return upload;
    });
    server = started.server;
    // Sent slowly enough that the body is still arriving 50 ms in.
    const slowBody = Readable.from((async function* () {
      const body = multipartBody(pattern(4 * MiB, 5));
      for (let at = 0; at < body.length; at += 64 * 1024) {
        yield body.subarray(at, at + 64 * 1024);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })());
    const first = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(started.url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      slowBody.pipe(req);
    });
    expect(first.status).to.equal(500);
    expect(first.body).to.match(/upload thread exited/);

    const content = pattern(3 * MiB, 6);
    const second = await post(started.url, multipartBody(content));
    expect(second.status).to.equal(200);
    expect(readFileSync(second.json.tempPath as string).equals(content)).to.equal(true);
  });
});
