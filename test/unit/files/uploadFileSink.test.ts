// UploadFileSink on real files: the bytes arrive whole and in order whether written on the event
// loop, on the thread pool, or moved from one to the other within a chunk; real write failures
// (/dev/full) fail the stream; a slow write moves every sink sharing the pacing to the pool.
import fs, { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { MAX_WRITE_BYTES, UploadFileSink, WritePacing } from '../../../src/files/uploadFileSink.ts';

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

/** Pacing that keeps writes on the event loop, however long they take. */
const eventLoopOnly = () => new WritePacing({ slowWriteMs: Number.POSITIVE_INFINITY, poolForMs: 0 });
/** Pacing under which every write counts as slow: after the first, writes go to the pool. */
const slowKernel = () => new WritePacing({ slowWriteMs: -1, poolForMs: 60_000 });

const failureOf = (done: Promise<unknown>) => done.then(() => undefined, (err: NodeJS.ErrnoException) => err);

describe('files: upload file sink', () => {
  let dir: string;
  const realWriteSync = fs.writeSync;
  const realWritev = fs.writev;
  /** Lengths of the writes made on the event loop and on the pool, in order. */
  let onLoop: number[];
  let onPool: number[];

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-sink-'));
    onLoop = [];
    onPool = [];
    // Observed, not replaced: every call still goes to the real file.
    (fs as { writeSync: unknown }).writeSync = (fd: number, buffer: Buffer, offset: number, length: number, ...rest: unknown[]) => {
      onLoop.push(length);
      return (realWriteSync as (...args: unknown[]) => number)(fd, buffer, offset, length, ...rest);
    };
    (fs as { writev: unknown }).writev = (fd: number, buffers: Buffer[], ...rest: unknown[]) => {
      onPool.push(buffers.reduce((n, b) => n + b.length, 0));
      return (realWritev as (...args: unknown[]) => void)(fd, buffers, ...rest);
    };
  });
  afterEach(() => {
    fs.writeSync = realWriteSync;
    fs.writev = realWritev;
    rmSync(dir, { recursive: true, force: true });
  });

  it(`writes 10 MiB of uneven chunks whole from the event loop, at most ${MAX_WRITE_BYTES} bytes a call`, async () => {
    const bytes = pattern(10 * 1024 * 1024 + 4321);
    const file = path.join(dir, 'out');
    const sink = new UploadFileSink(file, eventLoopOnly());
    await pipeline(Readable.from(unevenChunks(bytes)), sink);
    expect(readFileSync(file).equals(bytes)).to.equal(true);
    expect(sink.bytesWritten).to.equal(bytes.length);
    expect(onPool).to.deep.equal([]);
    expect(Math.max(...onLoop)).to.equal(MAX_WRITE_BYTES);
  });

  it('moves to the pool within a chunk after one slow write, and the file stays whole', async () => {
    const pacing = slowKernel();
    const bytes = pattern(3 * MAX_WRITE_BYTES + 5);
    const file = path.join(dir, 'out');
    const sink = new UploadFileSink(file, pacing);
    await pipeline(Readable.from([bytes, bytes.subarray(0, 1000)]), sink);
    expect(readFileSync(file).equals(Buffer.concat([bytes, bytes.subarray(0, 1000)]))).to.equal(true);
    expect(sink.bytesWritten).to.equal(bytes.length + 1000);
    expect(onLoop).to.deep.equal([MAX_WRITE_BYTES]); // the slow one; the rest went to the pool
    // Both chunks were waiting for the file's open, so they came as one batch: the end of the
    // first and the whole second share the last write.
    expect(onPool).to.deep.equal([MAX_WRITE_BYTES, MAX_WRITE_BYTES, 1005]);
    expect(pacing.slowWrites).to.equal(1);
    expect(pacing.onEventLoop).to.equal(false);
  });

  it('sends a later upload sharing the pacing straight to the pool, and back to the event loop once the time is up', async () => {
    const pacing = new WritePacing({ slowWriteMs: -1, poolForMs: 200 });
    await pipeline(Readable.from([pattern(10)]), new UploadFileSink(path.join(dir, 'first'), pacing));
    expect(onLoop).to.deep.equal([10]);

    const second = pattern(2 * MAX_WRITE_BYTES);
    await pipeline(Readable.from([second]), new UploadFileSink(path.join(dir, 'second'), pacing));
    expect(onLoop).to.deep.equal([10]);
    expect(onPool).to.deep.equal([MAX_WRITE_BYTES, MAX_WRITE_BYTES]);
    expect(readFileSync(path.join(dir, 'second')).equals(second)).to.equal(true);

    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(pacing.onEventLoop).to.equal(true);
    await pipeline(Readable.from([pattern(7)]), new UploadFileSink(path.join(dir, 'third'), pacing));
    expect(onLoop).to.deep.equal([10, 7]);
  });

  it('joins what buffered up during a pool write into writes of up to the limit, and goes on reading meanwhile', async () => {
    const pacing = slowKernel();
    pacing.tookMs(1); // already moved to the pool
    const file = path.join(dir, 'out');
    const sink = new UploadFileSink(file, pacing);
    const chunks = Array.from({ length: 100 }, (_, i) => pattern(10_000 + i));
    // All accepted without waiting for the disk: 1 MB is well inside the sink's buffer.
    expect(chunks.map((chunk) => sink.write(chunk))).to.not.include(false);
    sink.end();
    await new Promise((resolve, reject) => sink.once('finish', resolve).once('error', reject));
    expect(readFileSync(file).equals(Buffer.concat(chunks))).to.equal(true);
    expect(onLoop).to.deep.equal([]);
    expect(onPool.every((n) => n <= MAX_WRITE_BYTES)).to.equal(true);
    expect(onPool.filter((n) => n === MAX_WRITE_BYTES).length).to.be.at.least(3);
    expect(onPool.reduce((a, b) => a + b, 0)).to.equal(sink.bytesWritten);
  });

  for (const where of ['event loop', 'pool'] as const) {
    it(`fails with the file system's error when a write fails (on the ${where})`, async () => {
      const pacing = where === 'pool' ? slowKernel() : eventLoopOnly();
      if (where === 'pool') pacing.tookMs(1); // already moved to the pool
      // /dev/full: every write fails with ENOSPC, a real full disk as far as the writer can tell.
      const sink = new UploadFileSink('/dev/full', pacing);
      const err = await failureOf(pipeline(Readable.from([pattern(1000)]), sink));
      expect(err?.code).to.equal('ENOSPC');
      expect(where === 'pool' ? onPool : onLoop).to.deep.equal([1000]);
      expect(sink.destroyed).to.equal(true);
    });
  }

  it('fails with the error of open when the file cannot be created', async () => {
    const sink = new UploadFileSink(path.join(dir, 'missing', 'out'), eventLoopOnly());
    const err = await failureOf(pipeline(Readable.from([pattern(10)]), sink));
    expect(err?.code).to.equal('ENOENT');
  });

  it('closes the file only after a write in flight on the pool has returned, when destroyed under it', async () => {
    const file = path.join(dir, 'out');
    const sink = new UploadFileSink(file, slowKernel());
    const events: string[] = [];
    const realClose = fs.close;
    (fs as { close: unknown }).close = (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
      events.push('close');
      realClose(fd, callback);
    };
    // The pool's write: destroyed the moment it has been handed to the pool.
    (fs as { writev: unknown }).writev = (fd: number, buffers: Buffer[], position: number,
      callback: (err: NodeJS.ErrnoException | null, written: number) => void) => {
      events.push('write sent');
      realWritev(fd, buffers, position, (err, written) => {
        events.push('write returned');
        callback(err, written);
      });
      sink.destroy();
    };
    try {
      // The first piece is written on the loop (and is slow), the last byte goes to the pool.
      sink.write(pattern(MAX_WRITE_BYTES + 1));
      await new Promise((resolve) => sink.once('close', resolve));
    } finally {
      fs.close = realClose;
    }
    expect(events).to.deep.equal(['write sent', 'write returned', 'close']);
    expect(readFileSync(file).length).to.equal(MAX_WRITE_BYTES + 1);
  });
});
