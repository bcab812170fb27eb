// POST /upload's multipart receiver at its edges, against a real gateway: bodies built by hand and
// sent chunked (no Content-Length, so only the streaming checks can refuse them), and a client
// that goes away mid-file. After every refusal nothing may be left in the data directory.
import { existsSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { syntheticImage } from '../support/syntheticFits.ts';
import { startTestGateway, type TestGateway } from '../support/testGateway.ts';

const BOUNDARY = 'caesar-upload-test-7f3a';
const CONTENT_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

const filePart = (field: string, filename: string, bytes: Buffer) => Buffer.concat([
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n'),
  bytes, Buffer.from('\r\n'),
]);
const textPart = (field: string, value: string) =>
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"\r\n\r\n${value}\r\n`);
const multipart = (...parts: Buffer[]) => Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);

interface Answer { status: number; json: Record<string, unknown> }

/** POST a body in 16 KiB chunks with chunked transfer encoding. */
function postChunked(url: string, body: Buffer, contentType = CONTENT_TYPE): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': contentType } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
      res.on('error', reject);
    });
    req.on('error', reject);
    function* chunks() {
      for (let at = 0; at < body.length; at += 16 * 1024) yield body.subarray(at, at + 16 * 1024);
    }
    pipeline(Readable.from(chunks()), req).catch(reject);
  });
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('POST /upload: the multipart receiver', function () {
  this.timeout(60_000);
  const image = syntheticImage({ width: 128, height: 128, sources: [{ x: 60, y: 60, peak: 0.05, sigma: 2 }] });
  let gw: TestGateway;
  let tempDir: string;
  let uploadDir: string;
  const uploadUrl = () => gw.url('/upload');
  const stored = () => (existsSync(uploadDir) ? readdirSync(uploadDir) : []);

  before(async () => {
    // The limit is the image's exact size: it fits, one byte more does not.
    gw = await startTestGateway({ CAESAR_GATEWAY_MAX_UPLOAD_BYTES: String(image.bytes.length) });
    tempDir = path.join(gw.config.dataDir, 'tmp');
    uploadDir = path.join(gw.config.dataDir, 'uploads');
  });
  after(async () => {
    await gw?.stop();
  });

  /** A refusal leaves no temporary file and stores nothing. */
  async function expectRefused(answer: Promise<Answer>, status: number, message: RegExp): Promise<void> {
    const before = stored();
    const { status: got, json } = await answer;
    expect({ status: got, message: json.status }).to.deep.include({ status });
    expect(json.status).to.match(message);
    expect(readdirSync(tempDir)).to.deep.equal([]);
    expect(stored()).to.deep.equal(before);
  }

  it('stores a file of exactly the limit, keeps the tag and its non-ASCII name, and ignores other fields', async () => {
    const body = multipart(textPart('comment', 'ignored'), filePart('file', 'champ é.fits', image.bytes), textPart('tag', 'survey-b'));
    const { status, json } = await postChunked(uploadUrl(), body);
    expect(status).to.equal(200);
    expect(json).to.include({ filename_orig: 'champ é.fits', tag: 'survey-b', status: 'File uploaded with success' });
    expect(statSync(String(json.path)).size).to.equal(image.bytes.length);
    expect(readdirSync(tempDir)).to.deep.equal([]);
  });

  it('answers 413 for a file one byte over the limit, found while streaming', async () => {
    const body = multipart(filePart('file', 'big.fits', Buffer.concat([image.bytes, Buffer.from([0])])));
    await expectRefused(postChunked(uploadUrl(), body), 413, new RegExp(`limit is ${image.bytes.length} bytes`));
  });

  it('answers 413 for a file many times over the limit, and the gateway goes on serving', async () => {
    const huge = Buffer.concat(Array.from({ length: 40 }, () => image.bytes));
    await expectRefused(postChunked(uploadUrl(), multipart(filePart('file', 'huge.fits', huge))), 413, /File too large/);
    expect((await postChunked(uploadUrl(), multipart(filePart('file', 'after-413.fits', image.bytes)))).status).to.equal(200);
  });

  it('refuses a second file, and a file in another field, with 400', async () => {
    const small = image.bytes.subarray(0, 5760);
    await expectRefused(postChunked(uploadUrl(), multipart(filePart('file', 'a.fits', small), filePart('file', 'b.fits', small))),
      400, /More than one file in the request/);
    await expectRefused(postChunked(uploadUrl(), multipart(filePart('image', 'a.fits', small))),
      400, /Unexpected file in the multipart field 'image'/);
  });

  it("refuses a body whose 'file' is a text field, as one without a file", async () => {
    await expectRefused(postChunked(uploadUrl(), multipart(textPart('file', 'not a file'), textPart('tag', 'x'))),
      400, /^No file in the request: send it in a multipart field named 'file'$/);
  });

  it('refuses malformed multipart with 400 "Could not read the upload"', async () => {
    const truncated = filePart('file', 'cut.fits', image.bytes.subarray(0, 20_000)); // no closing boundary
    await expectRefused(postChunked(uploadUrl(), truncated), 400, /^Could not read the upload: .*unexpected end of multipart data/i);
    await expectRefused(postChunked(uploadUrl(), Buffer.alloc(0)), 400, /^Could not read the upload: Unexpected end of multipart data/);
    await expectRefused(postChunked(uploadUrl(), multipart(filePart('file', 'x.fits', image.bytes)), 'multipart/form-data'),
      400, /^Could not read the upload: .*[Bb]oundary/);
    const badHeader = Buffer.from(`--${BOUNDARY}\r\nthis line is not a header\r\n\r\nx\r\n--${BOUNDARY}--\r\n`);
    // A part whose header block is not headers names no field: it is skipped, so no file came.
    await expectRefused(postChunked(uploadUrl(), badHeader), 400, /^No file in the request/);
  });

  it('keeps a file name in any script, sent raw as browsers do or RFC 5987-encoded', async () => {
    const raw = await postChunked(uploadUrl(), multipart(filePart('file', '银河 M31.fits', image.bytes)));
    expect(raw.json).to.include({ filename_orig: '银河 M31.fits' });
    const encoded = Buffer.concat([
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''%E9%93%B6%E6%B2%B3.fits\r\n` +
        'Content-Type: image/fits\r\n\r\n'),
      image.bytes, Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
    ]);
    expect((await postChunked(uploadUrl(), encoded)).json).to.include({ filename_orig: '银河.fits' });
  });

  it('refuses more than 32 text fields besides the file', async () => {
    const many = Array.from({ length: 33 }, (_, i) => textPart(`note${i}`, 'x'));
    await expectRefused(postChunked(uploadUrl(), multipart(...many, filePart('file', 'a.fits', image.bytes))), 400, /Too many fields: at most 32/);
  });

  it('refuses a tag longer than 64 KiB', async () => {
    const body = multipart(textPart('tag', 't'.repeat(64 * 1024 + 1)), filePart('file', 'a.fits', image.bytes));
    await expectRefused(postChunked(uploadUrl(), body), 400, /'tag' field is longer than 65536 bytes/);
  });

  it('removes the partial file and finishes the request when the client goes away mid-file', async () => {
    const before = stored();
    const req = http.request(uploadUrl(), { method: 'POST', headers: { 'content-type': CONTENT_TYPE } });
    req.on('error', () => undefined); // the abort below
    const partial = filePart('file', 'abandoned.fits', image.bytes);
    req.write(partial.subarray(0, 40_000));
    // The request is being received: its temporary file is on disk and growing.
    const partialFile = () => readdirSync(tempDir).map((dir) => path.join(tempDir, dir, 'upload')).find((file) => existsSync(file));
    await waitFor('the partial file', () => (partialFile() !== undefined && statSync(partialFile()!).size > 0));
    req.destroy();
    // The route removes its temporary directory only when its handler has finished.
    await waitFor('the temporary directory to be removed', () => readdirSync(tempDir).length === 0);
    expect(stored()).to.deep.equal(before);
    expect((await postChunked(uploadUrl(), multipart(filePart('file', 'after-abort.fits', image.bytes)))).status).to.equal(200);
  });
});
