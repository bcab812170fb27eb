// parseMultipartBody() on a body cut into chunks of every awkward size, and in two at every
// position, so that boundaries, part headers and near-misses of the boundary fall across chunk
// edges: the stored file must be the sent bytes exactly. (A parser tried for speed, multipasta
// 0.2.8, failed the two-piece case when the closing '--' came apart from its delimiter.) The
// body is a plain stream, parsed on this thread; uploadThreads.test.ts sends real HTTP through
// the upload threads.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { parseMultipartBody } from '../../../src/uploads/multipartBody.ts';

const BOUNDARY = 'XbOuNdArY-42';

/** File bytes full of boundary look-alikes (CRLF, CRLF--, the delimiter minus its last byte,
 *  the boundary without its CRLF) that are still not the delimiter itself. */
function trickyContent(): Buffer {
  const nearMisses = [`\r\n`, `\r\n--`, `\r\n--${BOUNDARY.slice(0, -1)}`, `--${BOUNDARY}`, `\r\n-${BOUNDARY}`, '\r'];
  const pieces: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    // The filler ends in 'A', never in CRLF: a look-alike right after CRLF would be a real delimiter.
    pieces.push(Buffer.from(nearMisses[i % nearMisses.length]!, 'latin1'), Buffer.from([i, 255 - i, 13, 10, 0x41]));
  }
  return Buffer.concat(pieces);
}

function body(content: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`preamble\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="tag"\r\n\r\nrun-7\r\n`),
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="t.fits"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n'),
    content,
    Buffer.from(`\r\n--${BOUNDARY}--\r\nepilogue`),
  ]);
}

function inChunksOf(bytes: Buffer, chunkSize: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) chunks.push(bytes.subarray(at, at + chunkSize));
  return chunks;
}

const CONTENT_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/** Chunks handed back as released, over all parses of a test. */
let releasedChunks = 0;

/**
 * The body arriving as exactly these chunks, parsed into `tempDir`. Each chunk gets a memory of
 * its own, and once released that memory is taken away (transferred, as the upload thread does):
 * a view the parser or the sink still used after release would read nothing, and the stored
 * file would come out wrong.
 */
function parse(chunks: Buffer[], tempDir: string, maxFileBytes = 1 << 20) {
  const owned = chunks.map((chunk) => {
    const copy = Buffer.from(new ArrayBuffer(chunk.length));
    chunk.copy(copy);
    return copy;
  });
  const released = (done: Buffer[]) => {
    releasedChunks += done.length;
    const memory = done.map((chunk) => chunk.buffer as ArrayBuffer);
    structuredClone(memory, { transfer: memory });
  };
  return parseMultipartBody(Readable.from(owned), CONTENT_TYPE, { tempDir, maxFileBytes }, { released });
}

describe('uploads: multipart body parser, chunk edges', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-multipart-'));
    releasedChunks = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const content = trickyContent();
  const sent = body(content);
  for (const chunkSize of [1, 2, 3, 5, 13, BOUNDARY.length + 3, 64, 1000, sent.length]) {
    it(`stores the file byte for byte with ${chunkSize}-byte chunks`, async () => {
      const upload = await parse(inChunksOf(sent, chunkSize), dir);
      expect(upload).to.include({ originalName: 't.fits', size: content.length });
      expect(upload.fields).to.deep.equal({ tag: 'run-7' });
      expect(readFileSync(upload.tempPath).equals(content)).to.equal(true);
      expect(releasedChunks).to.equal(Math.ceil(sent.length / chunkSize)); // every chunk, once
    });
  }

  it('stores the file byte for byte wherever the body is cut in two', async () => {
    const wrong: string[] = [];
    for (let cut = 1; cut < sent.length; cut++) {
      const outcome = await parse([sent.subarray(0, cut), sent.subarray(cut)], dir)
        .then((upload) => (readFileSync(upload.tempPath).equals(content) && upload.fields.tag === 'run-7' ? 'ok' : 'wrong bytes'),
          (err: Error) => err.message);
      if (outcome !== 'ok') wrong.push(`cut at ${cut}: ${outcome}`);
    }
    expect(wrong).to.deep.equal([]);
    expect(releasedChunks).to.equal(2 * (sent.length - 1));
  });

  it('refuses, with 413, a file one byte over the limit even when it arrives a byte at a time', async () => {
    const refused = await parse(inChunksOf(sent, 1), dir, content.length - 1)
      .then(() => undefined, (err: unknown) => err as { httpStatus: number; message: string });
    expect(refused).to.include({ httpStatus: 413 });
  });
});
