// File-system calls for fs.createWriteStream (its `fs` option) that never hand the kernel more
// than 256 KiB in one write. The stream still buffers megabytes ahead of the disk, so socket reads
// go on while a write is in flight; only the size of each system call changes.
//
// Why: on the machines this gateway was measured on (Linux 6.18, ext4, a VM), one write() into the
// page cache of more than 256 KiB is several times slower than the same bytes in smaller writes —
// dd to a fresh file: bs=128K 2.3 GB/s, 256K 2.4, 512K 0.5, 1M 0.3 — and a write stream with a
// large buffer joins everything buffered into one writev(). Smaller calls cost nothing anywhere
// else: a 2 GiB upload is 8,192 of them.
import fs from 'node:fs';

/** The largest write handed to the kernel at once, in bytes. */
export const MAX_WRITE_BYTES = 256 * 1024;

type WriteCallback = (err: NodeJS.ErrnoException | null, written: number, buffers: NodeJS.ArrayBufferView[]) => void;

/** Pieces of one batch in flight at once (libuv's thread pool has four threads). */
const PIECES_IN_FLIGHT = 3;

/**
 * writev() in pieces of at most MAX_WRITE_BYTES. With a position (a stream opened with `start`),
 * up to PIECES_IN_FLIGHT pieces are written at once, each at its own offset, so the next one does
 * not wait for the event loop to hear of the last. Reports the bytes written before the first
 * short write or error: the write stream then writes the rest again itself.
 */
function writevInPieces(fd: number, buffers: NodeJS.ArrayBufferView[], position: number | null | undefined, callback: WriteCallback): void {
  const pieces = piecesOf(buffers);
  if (pieces.length === 0) {
    callback(null, 0, buffers);
    return;
  }
  // The stream passes no position unless opened with `start` (and NaN after a short write then).
  const positioned = Number.isSafeInteger(position);
  const outcomes: Array<{ err: NodeJS.ErrnoException | null; bytes: number }> = [];
  let started = 0;
  let finished = 0;
  let failed = false;
  const report = (): void => {
    let written = 0;
    for (const [i, piece] of pieces.entries()) {
      const outcome = outcomes[i];
      if (!outcome) break;
      if (outcome.err) {
        callback(written === 0 ? outcome.err : null, written, buffers);
        return;
      }
      written += outcome.bytes;
      if (outcome.bytes < piece.bytes) break;
    }
    callback(null, written, buffers);
  };
  const start = (): void => {
    const index = started++;
    const piece = pieces[index]!;
    fs.writev(fd, piece.buffers, positioned ? position! + piece.offset : null, (err, bytes) => {
      outcomes[index] = { err, bytes };
      finished += 1;
      if (err || bytes < piece.bytes) failed = true;
      if (started < pieces.length && !failed) start();
      else if (finished === started) report();
    });
  };
  const parallel = positioned ? Math.min(PIECES_IN_FLIGHT, pieces.length) : 1;
  for (let i = 0; i < parallel; i++) start();
}

interface Piece {
  buffers: NodeJS.ArrayBufferView[];
  bytes: number;
  /** Where the piece starts within the batch. */
  offset: number;
}

/** The buffers grouped into runs of at most MAX_WRITE_BYTES; a larger buffer is cut up. */
function piecesOf(buffers: NodeJS.ArrayBufferView[]): Piece[] {
  const pieces: Piece[] = [];
  let current: Piece = { buffers: [], bytes: 0, offset: 0 };
  for (const buffer of buffers) {
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    for (let at = 0; at < bytes.length;) {
      if (current.bytes === MAX_WRITE_BYTES) {
        pieces.push(current);
        current = { buffers: [], bytes: 0, offset: current.offset + current.bytes };
      }
      const take = Math.min(bytes.length - at, MAX_WRITE_BYTES - current.bytes);
      current.buffers.push(bytes.subarray(at, at + take));
      current.bytes += take;
      at += take;
    }
  }
  if (current.bytes > 0) pieces.push(current);
  return pieces;
}

/** write() of at most MAX_WRITE_BYTES; the stream writes the rest of a longer buffer next. */
function boundedWrite(fd: number, buffer: NodeJS.ArrayBufferView, offset: number, length: number,
  position: number | null | undefined, callback: (err: NodeJS.ErrnoException | null, written: number, buffer: NodeJS.ArrayBufferView) => void): void {
  fs.write(fd, buffer, offset, Math.min(length, MAX_WRITE_BYTES), Number.isSafeInteger(position) ? position : null, callback);
}

/** Pass as `fs` to fs.createWriteStream. */
export const boundedWritesFs = { open: fs.open, close: fs.close, write: boundedWrite, writev: writevInPieces };
