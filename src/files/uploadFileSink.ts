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
// write through the pool for `poolForMs`, after which the event loop is tried again. The default,
// 50 ms, is six times the slowest write seen here in normal operation (8 ms over 8 GiB uploaded);
// below that, a busy host's scheduling would send uploads to the pool for nothing.
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

  constructor(readonly options: WritePacingOptions = { slowWriteMs: 50, poolForMs: 30_000 }) {}

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

/** What may wait in memory while a write is on the pool (the bytes of one upload). */
const POOL_BUFFER_BYTES = 8 * 1024 ** 2;

/** A place in a list of buffers: buffer `index`, byte `offset` within it. */
interface Cursor {
  index: number;
  offset: number;
}

/** `at` moved on by `bytes`, past empty buffers too. */
function advance(buffers: Buffer[], at: Cursor, bytes: number): Cursor {
  let { index, offset } = at;
  offset += bytes;
  while (index < buffers.length && offset >= buffers[index]!.length) {
    offset -= buffers[index]!.length;
    index += 1;
  }
  return { index, offset };
}

/** The bytes from `at` on, up to MAX_WRITE_BYTES in all, as views (no copy). */
function pieceAt(buffers: Buffer[], at: Cursor): Buffer[] {
  const piece: Buffer[] = [];
  let room = MAX_WRITE_BYTES;
  for (let index = at.index, offset = at.offset; index < buffers.length && room > 0; index += 1, offset = 0) {
    const view = buffers[index]!.subarray(offset, offset + room);
    piece.push(view);
    room -= view.length;
  }
  return piece;
}

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
    // Only used while writes go to the pool: socket reads go on into this buffer while a write
    // is in flight. On the event loop each write completes before the next chunk is taken.
    super({ highWaterMark: POOL_BUFFER_BYTES, decodeStrings: true });
  }

  override _construct(callback: (err?: Error | null) => void): void {
    fs.open(this.file, 'w', (err, fd) => {
      this.fd = fd;
      callback(err);
    });
  }

  /** Every write comes here (Writable's own _write hands a single chunk to _writev): several
   *  chunks are what buffered up while a pool write was in flight, joined into few writes. */
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.writeFrom(chunks.map(({ chunk }) => chunk), { index: 0, offset: 0 }, callback);
  }

  /** Writes `buffers` from `at` on: on the event loop while the pacing allows, else on the pool. */
  private writeFrom(buffers: Buffer[], at: Cursor, callback: (err?: Error | null) => void): void {
    while (at.index < buffers.length) {
      if (!this.pacing.onEventLoop) {
        this.writeOnPool(buffers, at, callback);
        return;
      }
      const buffer = buffers[at.index]!;
      let written: number;
      try {
        const started = performance.now();
        written = fs.writeSync(this.fd!, buffer, at.offset, Math.min(buffer.length - at.offset, MAX_WRITE_BYTES), this.bytesWritten);
        this.pacing.tookMs(performance.now() - started);
      } catch (err) {
        callback(err as Error);
        return;
      }
      this.bytesWritten += written;
      at = advance(buffers, at, written);
    }
    callback();
  }

  /** One write of up to MAX_WRITE_BYTES from `at` on, on the pool; then the rest, from where it stopped. */
  private writeOnPool(buffers: Buffer[], at: Cursor, callback: (err?: Error | null) => void): void {
    this.poolWriteInFlight = true;
    fs.writev(this.fd!, pieceAt(buffers, at), this.bytesWritten, (err, written) => {
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
      this.writeFrom(buffers, advance(buffers, at, written), callback);
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
