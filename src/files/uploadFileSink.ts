// The writable end of an upload: the bytes go to a file with write() calls made straight from the
// event loop while they return quickly, and through libuv's thread pool once one does not.
//
// Why on the event loop: the upload's chunks arrive on it and are still in this CPU's cache, and
// a write into the page cache is a copy that takes ~0.1 ms per 256 KiB. Handing each chunk to a
// pool thread costs more than the write: on a 2-vCPU VM, receiving 1 GiB and writing it through
// the pool took 2.3 CPU-seconds (1.1 of them on pool threads), against 1.8 written here.
// pino's file destination writes synchronously for the same reason.
//
// Why at most 256 KiB a write: on the machines this gateway was measured on (Linux 6.18, ext4, a
// VM), one write() of more into the page cache is several times slower than the same bytes in
// smaller writes: dd to a fresh file ran at 2.3 GB/s with bs=128K, 2.4 with 256K, 0.5 with 512K
// and 0.3 with 1M.
//
// Why not always: when the disk falls behind, the kernel throttles writers (balance_dirty_pages
// sleeps up to 200 ms in a write), and a sleep on the event loop would stall every other request.
// One write slower than `slowWriteMs` is taken as that sign: this sink and every other one then
// write through the pool for `poolForMs`, after which the event loop is tried again.
import fs from 'node:fs';
import { Writable } from 'node:stream';

/** The largest write handed to the kernel at once, in bytes. */
export const MAX_WRITE_BYTES = 256 * 1024;

export interface WritePacingOptions {
  /** A write on the event loop that takes longer than this sends writes to the pool. */
  slowWriteMs: number;
  /** How long writes then stay on the pool. */
  poolForMs: number;
}

/** Where writes go, shared by the sinks that use it: one slow write moves them all to the pool. */
export class WritePacing {
  private poolUntil = 0;
  /** Writes that found the kernel slow, since start-up. */
  slowWrites = 0;

  constructor(readonly options: WritePacingOptions = { slowWriteMs: 20, poolForMs: 30_000 }) {}

  get onEventLoop(): boolean {
    return performance.now() >= this.poolUntil;
  }

  /** Record how long one write on the event loop took. */
  tookMs(ms: number): void {
    if (ms <= this.options.slowWriteMs) return;
    this.slowWrites += 1;
    this.poolUntil = performance.now() + this.options.poolForMs;
  }
}

export const sharedWritePacing = new WritePacing();

/**
 * A Writable that creates (or truncates) `file` and writes what it is given, in order, in writes
 * of at most MAX_WRITE_BYTES (see above).
 * 'finish' means every byte has been handed to the kernel; the file is closed on finish and on
 * destroy alike.
 */
export class UploadFileSink extends Writable {
  private fd: number | undefined;
  /** Set while a write is on the pool: the file must not be closed under it (its descriptor
   *  could be reused by another open and the write land there). */
  private poolWriteInFlight = false;
  /** A close that waits for that write. */
  private closeAfterWrite: (() => void) | undefined;
  /** Bytes handed to the kernel so far. */
  bytesWritten = 0;

  constructor(private readonly file: string, private readonly pacing: WritePacing = sharedWritePacing) {
    // A small buffer: a write on the event loop completes before the next chunk is taken, and a
    // pooled one has at most this much queued behind it.
    super({ highWaterMark: MAX_WRITE_BYTES, decodeStrings: true });
  }

  override _construct(callback: (err?: Error | null) => void): void {
    fs.open(this.file, 'w', (err, fd) => {
      this.fd = fd;
      callback(err);
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.pacing.onEventLoop) this.writeOnEventLoop(chunk, callback);
    else this.writeOnPool(chunk, 0, callback);
  }

  private writeOnEventLoop(chunk: Buffer, callback: (err?: Error | null) => void): void {
    let at = 0;
    try {
      while (at < chunk.length) {
        const started = performance.now();
        at += fs.writeSync(this.fd!, chunk, at, Math.min(chunk.length - at, MAX_WRITE_BYTES), this.bytesWritten + at);
        this.pacing.tookMs(performance.now() - started);
        // The kernel just made us wait: leave the rest of this chunk to the pool as well.
        if (!this.pacing.onEventLoop && at < chunk.length) {
          this.bytesWritten += at;
          this.writeOnPool(chunk, at, callback);
          return;
        }
      }
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.bytesWritten += chunk.length;
    callback();
  }

  /** Writes `chunk` from `from` on, through the pool; a short write goes on where it stopped. */
  private writeOnPool(chunk: Buffer, from: number, callback: (err?: Error | null) => void): void {
    if (from >= chunk.length) {
      callback();
      return;
    }
    const length = Math.min(chunk.length - from, MAX_WRITE_BYTES);
    this.poolWriteInFlight = true;
    fs.write(this.fd!, chunk, from, length, this.bytesWritten, (err, written) => {
      this.poolWriteInFlight = false;
      if (this.closeAfterWrite) {
        this.closeAfterWrite(); // destroyed meanwhile: nothing more is written
        return;
      }
      if (err) {
        callback(err);
        return;
      }
      this.bytesWritten += written;
      this.writeOnPool(chunk, from + written, callback);
    });
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.closeFile(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.closeFile((closeErr) => callback(err ?? closeErr));
  }

  private closeFile(callback: (err?: Error | null) => void): void {
    if (this.poolWriteInFlight) {
      this.closeAfterWrite = () => this.closeFile(callback);
      return;
    }
    this.closeAfterWrite = undefined;
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) {
      callback();
      return;
    }
    fs.close(fd, (err) => callback(err));
  }
}
