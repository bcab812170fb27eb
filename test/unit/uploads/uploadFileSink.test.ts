// UploadFileSink on real files: the bytes arrive whole and in order, in writes no larger than
// MAX_WRITE_BYTES; real write failures (/dev/full) fail the stream; the file is closed either way.
import fs, { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { MAX_WRITE_BYTES, UploadFileSink } from '../../../src/uploads/uploadFileSink.ts';

/** Bytes that differ at every offset, so a piece written at the wrong place shows. */
function pattern(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7919 + (i >> 8)) % 251;
  return bytes;
}

/** `bytes` cut into uneven chunks, from 1 byte to well over MAX_WRITE_BYTES. */
function* unevenChunks(bytes: Buffer): Generator<Buffer> {
  for (let at = 0, step = 1; at < bytes.length; at += step, step = ((step * 3 + 17) % (700 * 1024)) || 1) {
    yield bytes.subarray(at, at + step);
  }
}

const failureOf = (done: Promise<unknown>) => done.then(() => undefined, (err: NodeJS.ErrnoException) => err);

describe('uploads: upload file sink', () => {
  let dir: string;
  const realWriteSync = fs.writeSync;
  const realCloseSync = fs.closeSync;
  /** Lengths of the writes made, in order. */
  let writes: number[];
  let closes: number;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-sink-'));
    writes = [];
    closes = 0;
    // Observed, not replaced: every call still goes to the real file.
    (fs as { writeSync: unknown }).writeSync = (fd: number, buffer: Buffer, offset: number, length: number, ...rest: unknown[]) => {
      writes.push(length);
      return (realWriteSync as (...args: unknown[]) => number)(fd, buffer, offset, length, ...rest);
    };
    (fs as { closeSync: unknown }).closeSync = (fd: number) => {
      closes += 1;
      realCloseSync(fd);
    };
  });
  afterEach(() => {
    fs.writeSync = realWriteSync;
    fs.closeSync = realCloseSync;
    rmSync(dir, { recursive: true, force: true });
  });

  it(`writes 10 MiB of uneven chunks whole, at most ${MAX_WRITE_BYTES} bytes a call, into a file only its owner reads`, async () => {
    const bytes = pattern(10 * 1024 * 1024 + 4321);
    const file = path.join(dir, 'out');
    const sink = new UploadFileSink(file);
    await pipeline(Readable.from(unevenChunks(bytes)), sink);
    expect(closes).to.equal(1); // before readFileSync, which closes its own descriptor
    expect(readFileSync(file).equals(bytes)).to.equal(true);
    expect(sink.bytesWritten).to.equal(bytes.length);
    expect(Math.max(...writes)).to.equal(MAX_WRITE_BYTES);
    expect(writes.reduce((a, b) => a + b, 0)).to.equal(bytes.length);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
  });

  it("fails with the file system's error when a write fails, and closes the file", async () => {
    // /dev/full: every write fails with ENOSPC, a real full disk as far as the writer can tell.
    const sink = new UploadFileSink('/dev/full');
    const err = await failureOf(pipeline(Readable.from([pattern(1000)]), sink));
    expect(err?.code).to.equal('ENOSPC');
    expect(writes).to.deep.equal([1000]);
    expect(sink.destroyed).to.equal(true);
    expect(closes).to.equal(1);
  });

  it('fails with the error of open when the file cannot be created', async () => {
    const sink = new UploadFileSink(path.join(dir, 'missing', 'out'));
    const err = await failureOf(pipeline(Readable.from([pattern(10)]), sink));
    expect(err?.code).to.equal('ENOENT');
    expect(closes).to.equal(0);
  });

  it('closes the file once when destroyed half-way', async () => {
    const file = path.join(dir, 'out');
    const sink = new UploadFileSink(file);
    await new Promise((resolve, reject) => sink.write(pattern(1000), (err) => (err ? reject(err) : resolve(undefined))));
    sink.destroy();
    await new Promise((resolve) => sink.once('close', resolve));
    expect(closes).to.equal(1);
    expect(readFileSync(file).length).to.equal(1000);
  });
});
