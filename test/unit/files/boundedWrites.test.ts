// boundedWritesFs under fs.createWriteStream, on real files: the bytes arrive whole and in order,
// no system call gets more than MAX_WRITE_BYTES, and a failing write fails the stream.
import fs, { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { expect } from 'chai';
import { MAX_WRITE_BYTES, boundedWritesFs } from '../../../src/files/boundedWrites.ts';

/** Bytes that differ at every offset, so a piece written at the wrong place shows. */
function pattern(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7919 + (i >> 8)) % 251;
  return bytes;
}

describe('files: bounded writes', () => {
  let dir: string;
  let sizes: number[];
  const realWritev = fs.writev;
  const realWrite = fs.write;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'caesar-writes-'));
    sizes = [];
    // Observed, not replaced: every call still goes to the real file.
    (fs as { writev: unknown }).writev = (fd: number, buffers: NodeJS.ArrayBufferView[], ...rest: unknown[]) => {
      sizes.push(buffers.reduce((n, b) => n + b.byteLength, 0));
      return (realWritev as (...args: unknown[]) => void)(fd, buffers, ...rest);
    };
    (fs as { write: unknown }).write = (fd: number, buffer: NodeJS.ArrayBufferView, offset: number, length: number, ...rest: unknown[]) => {
      sizes.push(length);
      return (realWrite as (...args: unknown[]) => void)(fd, buffer, offset, length, ...rest);
    };
  });
  afterEach(() => {
    fs.writev = realWritev;
    fs.write = realWrite;
    rmSync(dir, { recursive: true, force: true });
  });

  for (const start of [undefined, 0]) {
    it(`writes 10 MiB sent in uneven chunks whole, at most ${MAX_WRITE_BYTES} bytes a call (${start === undefined ? 'appending' : 'positioned, pieces in parallel'})`, async () => {
      const bytes = pattern(10 * 1024 * 1024 + 4321);
      const file = path.join(dir, 'out');
      const out = fs.createWriteStream(file, { highWaterMark: 8 * 1024 * 1024, fs: boundedWritesFs, ...(start === undefined ? {} : { start }) });
      for (let at = 0, step = 1; at < bytes.length; at += step, step = ((step * 3 + 17) % (700 * 1024)) || 1) {
        if (!out.write(bytes.subarray(at, at + step))) await once(out, 'drain');
      }
      out.end();
      await once(out, 'close');
      expect(readFileSync(file).equals(bytes)).to.equal(true);
      expect(out.bytesWritten).to.equal(bytes.length);
      expect(Math.max(...sizes)).to.equal(MAX_WRITE_BYTES);
      expect(sizes.reduce((a, b) => a + b, 0)).to.equal(bytes.length);
    });
  }

  it('cuts one buffer larger than the limit into several writes', async () => {
    const bytes = pattern(3 * MAX_WRITE_BYTES + 5);
    const file = path.join(dir, 'out');
    const out = fs.createWriteStream(file, { fs: boundedWritesFs });
    out.end(bytes);
    await once(out, 'close');
    expect(readFileSync(file).equals(bytes)).to.equal(true);
    expect(sizes.every((n) => n <= MAX_WRITE_BYTES)).to.equal(true);
  });

  it('fails the stream with the file system error when a write fails', async () => {
    const file = path.join(dir, 'read-only');
    writeFileSync(file, '');
    // Opened for reading only: every write fails with EBADF, a real error of the system call.
    const out = fs.createWriteStream(file, { flags: 'r', fs: boundedWritesFs, start: 0 });
    out.write(pattern(MAX_WRITE_BYTES * 2));
    const [err] = await once(out, 'error') as [NodeJS.ErrnoException];
    expect(err.code).to.equal('EBADF');
    expect(err.syscall).to.match(/^write/);
  });
});
