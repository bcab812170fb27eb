// The writable end of an upload, on an upload thread (see uploadThreads.ts): the bytes go to a
// file with plain write() calls, each finished before the next chunk is taken. Blocking is what
// that thread is for: a write the kernel holds up (the disk behind, balance_dirty_pages) stalls
// only the uploads on that thread, and their senders through TCP, never the event loop that
// answers every other request.
//
// Why at most 64 KiB a write (what `cat` writes, from a pipe): on the machines this gateway was
// measured on (Linux 6.18, ext4, a VM), the kernel's cost per byte grows with the write size when
// the page cache takes memory the host has reclaimed, which is the case after a few idle seconds.
// dd writing 2 GiB to a fresh file 10 s after a sync took 0.75-1.70 s with bs=64K, 1.24-1.98 with
// 128K, 1.72-2.18 with 256K and 3.0 with 1M, almost all of it system time (three sets, 64K the
// cheapest in each). Straight after another 2 GiB had been freed, every size took 0.28-0.40 s.
// In the gateway, 64 KiB writes against 256 KiB, 2 GiB uploads, median MiB/s of four alternating
// sessions of 6-8 runs each: 1,376 vs 1,180, 1,290 vs 1,235, 1,264 vs 1,290, 1,246 vs 1,166.
//
// Why not direct I/O (O_DIRECT), which skips the page cache and its copy: tried, with
// page-aligned staging buffers (WebAssembly memory) and two 2 MiB writes in flight. Alone it
// wrote 2 GiB at 2.2 GiB/s on 0.16-0.24 CPU-seconds, where buffered writes ran at 0.7-1.0 GB/s;
// inside the gateway an upload used about 0.3 CPU-seconds less but was no faster (771-1,042
// MiB/s against 1,050-1,331, 4 runs each): the event loop's socket reads set the pace.
import fs from 'node:fs';
import { Writable } from 'node:stream';

/** The largest write handed to the kernel at once, in bytes. */
export const MAX_WRITE_BYTES = 64 * 1024;

/**
 * A Writable that creates (or truncates) `file`, readable by its owner only, and writes what it
 * is given in order, in writes of at most MAX_WRITE_BYTES. 'finish' means every byte has been
 * handed to the kernel; the file is closed on finish and on destroy alike.
 */
export class UploadFileSink extends Writable {
  private fd: number | undefined;
  /** Bytes handed to the kernel so far. */
  bytesWritten = 0;

  /** `afterWrite`: called after each chunk is written, once the sink no longer holds it. */
  constructor(private readonly file: string, private readonly hooks: { afterWrite?: () => void } = {}) {
    // Larger than one chunk, so that a chunk written at once does not make the sink ask its
    // source to pause until the next tick.
    super({ decodeStrings: true, highWaterMark: 1024 * 1024 });
  }

  override _construct(callback: (err?: Error | null) => void): void {
    try {
      this.fd = fs.openSync(this.file, 'w', 0o600);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    try {
      for (let offset = 0; offset < chunk.length;) {
        const written = fs.writeSync(this.fd!, chunk, offset, Math.min(chunk.length - offset, MAX_WRITE_BYTES));
        offset += written;
        this.bytesWritten += written;
      }
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
    this.hooks.afterWrite?.();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.closeFile(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.closeFile((closeErr) => callback(err ?? closeErr));
  }

  private closeFile(callback: (err?: Error | null) => void): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) {
      callback();
      return;
    }
    try {
      fs.closeSync(fd);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}
