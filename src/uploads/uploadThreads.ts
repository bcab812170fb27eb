// Receives upload bodies on the event loop and hands their bytes to upload threads, which parse
// the multipart body and write the file (uploadThread.ts).
//
// Why threads: receiving an upload, finding the multipart boundaries and writing the file all on
// the event loop took one full core, 2 CPU-seconds per GiB on this project's 2-vCPU test VM, and
// every other request waited behind it. The event loop now only reads the socket and copies what
// it reads into 1 MiB buffers that move (not copy) to a thread and come back once written;
// reading and writing run on two cores at once. Measured on that VM: 370-406 MiB/s into a file
// from the event loop against 581-653 through a thread (2 GiB, 3 runs each).
//
// Why copy at all, when Node's own read buffers (64 KiB each) could move to the thread as they
// are: tried, sixteen to a message and joined on the thread. An upload then cost 3.4-4.4
// CPU-seconds per 2 GiB instead of 1.8-2.2 and ran at 675-902 MiB/s instead of 1,251-1,523
// (4 runs each); most likely because no buffer is reused then: each is allocated on the event
// loop and freed by the thread's garbage collector. Moved without joining (each 64 KiB chunk
// parsed and written as it came) was no better: a median of 1,236 MiB/s against 1,306 (6 runs each).
//
// Backpressure: at most MAX_IN_FLIGHT bytes of an upload wait in its thread; past that the
// request is paused until the thread reports bytes parsed, so memory stays bounded whatever the
// size and TCP slows the sender down.
import type { IncomingMessage } from 'node:http';
import { finished } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { MultipartUpload, MultipartUploadOptions } from './multipartBody.ts';
import { deserializeError, type FromUploadThread, type ToUploadThread } from './threadMessages.ts';

/**
 * The size of the buffers the bytes cross in. Each buffer costs a message each way and a boundary
 * search that starts afresh (Buffer.indexOf first scans for the needle's first byte, which random
 * float data holds every 256 bytes, before it skips ahead): 1 MiB buffers took 2.0 CPU-seconds
 * per 2 GiB upload where 256 KiB took 2.4 (4 runs each, random data, the 2-vCPU test VM).
 */
const BATCH_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT = 8 * 1024 ** 2;
/** Enough to refill everything in flight without allocating. */
const SPARE_BUFFERS = MAX_IN_FLIGHT / BATCH_BYTES + 2;

export interface UploadReceiver {
  receive(req: IncomingMessage, options: MultipartUploadOptions): Promise<MultipartUpload>;
}

/** What the event loop keeps about one upload on a thread. */
interface UploadOnThread {
  consumed(bytes: number, buffers: ArrayBuffer[]): void;
  settle(outcome: { upload: MultipartUpload } | { error: Error }): void;
}

/** One worker thread and the uploads it carries. */
class UploadThread {
  readonly uploads = new Map<number, UploadOnThread>();
  private nextId = 1;
  private readonly worker: Worker;

  constructor(onExit: () => void) {
    this.worker = new Worker(new URL('./uploadThreadEntry.mjs', import.meta.url));
    // Idle threads do not keep the process alive; the gateway's stop() ends them.
    this.worker.unref();
    this.worker.on('message', (message: FromUploadThread) => this.dispatch(message));
    const failAll = (error: Error) => {
      for (const upload of this.uploads.values()) upload.settle({ error });
      this.uploads.clear();
      onExit();
    };
    this.worker.on('error', (err) => failAll(new Error(`upload thread failed: ${err.message}`)));
    this.worker.on('exit', (code) => failAll(new Error(`upload thread exited (code ${code})`)));
  }

  add(upload: UploadOnThread): number {
    const id = this.nextId++;
    this.uploads.set(id, upload);
    return id;
  }

  post(message: ToUploadThread, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(message, transfer);
  }

  private dispatch(message: FromUploadThread): void {
    const upload = this.uploads.get(message.id);
    if (!upload) return;
    if (message.type === 'consumed') {
      upload.consumed(message.bytes, message.buffers);
      return;
    }
    this.uploads.delete(message.id);
    upload.settle(message.type === 'done' ? { upload: message.upload } : { error: deserializeError(message.error) });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Up to `count` upload threads, started as uploads need them and kept; each upload goes to the least busy. */
export class UploadThreads implements UploadReceiver {
  private readonly threads: Array<UploadThread | undefined>;

  constructor(count: number) {
    this.threads = new Array<UploadThread | undefined>(count).fill(undefined);
  }

  /**
   * Receive the multipart body of `req` into `options.tempDir`. Settles like parseMultipartBody()
   * (an HttpError for the client, or the file system's error), and only once the thread is done
   * with the upload: a rejection leaves no partial file behind.
   */
  receive(req: IncomingMessage, options: MultipartUploadOptions): Promise<MultipartUpload> {
    const thread = this.leastBusy();
    return new Promise<MultipartUpload>((resolve, reject) => {
      let batch: Buffer | undefined;
      let batched = 0;
      /** Full-size buffers the thread gave back, to fill again. */
      const spare: ArrayBuffer[] = [];
      let flushScheduled = false;
      let inFlight = 0;
      let settled = false;

      const flush = () => {
        if (!batch || batched === 0) return;
        // A full buffer moves as it is (it is not a slice of Node's shared pool); a partial one
        // as a copy of its bytes, so that what waits in the thread is what counts.
        const full = batched === batch.length;
        const bytes = full ? batch.buffer as ArrayBuffer : (batch.buffer as ArrayBuffer).slice(0, batched);
        thread.post({ type: 'bytes', id, bytes, length: batched }, [bytes]);
        inFlight += batched;
        if (full) batch = undefined;
        batched = 0;
        if (inFlight > MAX_IN_FLIGHT) req.pause();
      };
      const onData = (chunk: Buffer) => {
        for (let offset = 0; offset < chunk.length;) {
          batch ??= Buffer.from(spare.pop() ?? new ArrayBuffer(BATCH_BYTES));
          const copied = chunk.copy(batch, batched, offset);
          offset += copied;
          batched += copied;
          if (batched === BATCH_BYTES) flush();
        }
        // What a slow sender sent goes on once this burst of socket reads is over (libuv reads a
        // socket several times in one turn of the loop; setImmediate runs after them).
        if (batched > 0 && !flushScheduled) {
          flushScheduled = true;
          setImmediate(() => {
            flushScheduled = false;
            if (!settled) flush();
          });
        }
      };
      const onEnd = () => {
        flush();
        thread.post({ type: 'end', id });
      };

      const id = thread.add({
        consumed(bytes, buffers) {
          inFlight -= bytes;
          for (const buffer of buffers) if (buffer.byteLength === BATCH_BYTES && spare.length < SPARE_BUFFERS) spare.push(buffer);
          if (!settled && inFlight <= MAX_IN_FLIGHT / 2 && req.isPaused()) req.resume();
        },
        settle(outcome) {
          settled = true;
          req.off('data', onData).off('end', onEnd);
          // The rest of a body that failed early (413, a malformed part) is read and dropped, so
          // the client can read the answer and the connection stays usable.
          req.resume();
          if ('upload' in outcome) resolve(outcome.upload);
          else reject(outcome.error);
        },
      });
      thread.post({ type: 'start', id, contentType: req.headers['content-type'], options });
      req.on('data', onData).on('end', onEnd);
      // A client that goes away mid-upload: the thread fails the upload with this reason, once
      // it has removed what it wrote. finished() also reports a request closed before now.
      finished(req, (err) => {
        if (err && !settled) thread.post({ type: 'abort', id, reason: err.message });
      });
    });
  }

  /** End the threads; uploads still on them fail. */
  async close(): Promise<void> {
    const running = this.threads.filter((thread): thread is UploadThread => thread !== undefined);
    this.threads.fill(undefined);
    await Promise.all(running.map((thread) => thread.terminate()));
  }

  /** An idle thread if there is one, else a new one while fewer than `count` run, else the one
   *  carrying the fewest uploads. */
  private leastBusy(): UploadThread {
    let best: UploadThread | undefined;
    for (const thread of this.threads) {
      if (thread && (!best || thread.uploads.size < best.uploads.size)) best = thread;
    }
    const free = this.threads.indexOf(undefined);
    if (best && (best.uploads.size === 0 || free < 0)) return best;
    const started: UploadThread = new UploadThread(() => {
      const slot = this.threads.indexOf(started);
      if (slot >= 0) this.threads[slot] = undefined;
    });
    this.threads[free] = started;
    return started;
  }
}
