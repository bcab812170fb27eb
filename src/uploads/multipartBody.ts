// Parses POST /upload's multipart body: exactly one file, in the field `file`, written to a
// temporary file as it arrives, plus the optional `tag` text field; other text fields are ignored.
// It runs on an upload thread (uploadThread.ts), fed the request's bytes by the event loop.
//
// The file part is piped to disk (the parser's file stream → UploadFileSink) so backpressure is
// the streams' own. The parser is @fastify/busboy: it finds the boundary with Buffer.indexOf
// (native code), where busboy 1.x searched in JavaScript — on a 1 GiB upload 1.2-1.4 CPU-seconds
// instead of 1.7-1.9.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { finished, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import { HttpError, badRequest } from '../http/httpError.ts';
import { UploadFileSink } from './uploadFileSink.ts';

export interface MultipartUpload {
  /** The file's bytes, in the temporary directory the caller passed (the caller removes it). */
  tempPath: string;
  originalName: string;
  size: number;
  fields: { tag?: string };
}

export interface MultipartUploadOptions {
  /** A directory of this request's own: the file is written there under a fixed name. */
  tempDir: string;
  maxFileBytes: number;
}

export interface MultipartBodyHooks {
  /**
   * Body chunks nothing refers to any more: parsed, and the file's bytes among them written.
   * Their memory may be reused (uploadThread.ts hands it back to the event loop). Called in the
   * order the chunks came, each chunk once, the last ones before the promise settles.
   */
  released?: (chunks: Buffer[]) => void;
}

/** Text fields are held in memory: a tag needs far less, and nothing else is kept. */
const MAX_FIELD_BYTES = 64 * 1024;
const MAX_FIELDS = 32;
const DEFAULT_NAME = 'upload.fits';

export const NO_FILE_MESSAGE = "No file in the request: send it in a multipart field named 'file'";

export function fileTooLarge(limit: number): HttpError {
  return new HttpError(413, 'too_large', `File too large: the limit is ${limit} bytes (${(limit / 1024 ** 3).toFixed(2)} GiB)`);
}

const unreadable = (err: unknown) => badRequest(`Could not read the upload: ${(err as Error).message}`);

/**
 * Read the multipart `body` (sent with `contentType`) into `tempDir`. Rejects with an HttpError
 * the client can act on (400, 413), or with the file system's error (a 500); either way the
 * partial file is removed first and the body is no longer parsed. A body that fails (destroyed
 * with an error: the client went away) rejects with a 400 that says so.
 */
export function parseMultipartBody(
  body: Readable, contentType: string | undefined, options: MultipartUploadOptions, hooks: MultipartBodyHooks = {},
): Promise<MultipartUpload> {
  let parser: BusboyInstance;
  if (!contentType) return Promise.reject(badRequest("The upload has no Content-Type: send it as multipart/form-data with the file in the field 'file'"));
  try {
    parser = new Busboy({
      headers: { 'content-type': contentType },
      // The file's stream signals 'limit' once the file grows past fileSize.
      limits: { fileSize: options.maxFileBytes, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES },
    });
  } catch (err) {
    return Promise.reject(unreadable(err)); // no boundary, or not multipart at all
  }
  const tempPath = path.join(options.tempDir, 'upload');

  return new Promise<MultipartUpload>((resolve, reject) => {
    let file: { originalName: string; part: Readable; out: UploadFileSink; written: Promise<number> } | undefined;
    const fields: MultipartUpload['fields'] = {};
    let settled = false;

    // The parser keeps no view of a chunk it has parsed (headers and fields become strings; a
    // boundary split across chunks is copied); the file's bytes are views into the chunks until
    // the sink has written them. So: once the parser, the file's stream and the sink hold
    // nothing, every chunk the body has emitted so far is free. They hold something only while
    // one of them waits for the next (the sink's writes are synchronous): looked at again on the
    // next turn of the loop, until they have caught up.
    const held: Buffer[] = [];
    const { released } = hooks;
    let lookAgain: NodeJS.Immediate | undefined;
    const releaseIfFree = () => {
      if (!released || held.length === 0) return;
      const busy = parser.writableLength > 0 || (file !== undefined && (file.part.readableLength > 0 || file.out.writableLength > 0));
      if (!settled && busy) {
        lookAgain ??= setImmediate(() => {
          lookAgain = undefined;
          releaseIfFree();
        });
        return;
      }
      released(held.splice(0));
    };
    if (released) {
      body.on('data', (chunk: Buffer) => {
        held.push(chunk);
        // After the parser's own 'data' listener (the pipe) has parsed it.
        queueMicrotask(releaseIfFree);
      });
    }

    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      // Not at once: this may run inside one of the parser's own events, and it goes on using
      // its state after emitting them.
      process.nextTick(() => {
        body.unpipe(parser);
        // Discard the rest of the body (the event loop does the same with the request's).
        body.resume();
        parser.destroy();
        // The parser does not end the file part's stream when destroyed, and a part past its
        // limit may never emit 'end': destroying the file's sink settles the pipeline (which
        // destroys the part's stream with it).
        file?.out.destroy();
        // Remove the partial file once the sink has closed: its open may still be
        // pending until then, and would create the file again after an earlier removal.
        const writeClosed = file ? file.written.then(() => undefined, () => undefined) : Promise.resolve();
        void writeClosed
          .then(() => rm(tempPath, { force: true }))
          .catch(() => undefined) // the caller removes the whole directory anyway
          .then(() => {
            releaseIfFree(); // the streams are destroyed: nothing writes any more
            reject(err);
          });
      });
    };

    parser.on('file', (name, stream, filename) => {
      if (name !== 'file') {
        fail(badRequest(`Unexpected file in the multipart field '${name}': send one file, in the field named 'file'`));
        return;
      }
      if (file) {
        fail(badRequest("More than one file in the request: send exactly one, in the multipart field named 'file'"));
        return;
      }
      stream.once('limit', () => fail(fileTooLarge(options.maxFileBytes)));
      const out = new UploadFileSink(tempPath, { afterWrite: releaseIfFree });
      file = { originalName: filename || DEFAULT_NAME, part: stream, out, written: pipeline(stream, out).then(() => out.bytesWritten) };
      // The part's stream fails when the body does (the parser ends it with the reason); a failed
      // write (a full disk) is the server's problem and goes up as it is.
      file.written.catch((err: unknown) => fail(isSystemCallError(err) ? err : unreadable(err)));
    });

    parser.on('field', (name, value, _nameTruncated, valueTruncated) => {
      if (name !== 'tag') return;
      if (valueTruncated) fail(badRequest(`The 'tag' field is longer than ${MAX_FIELD_BYTES} bytes`));
      else fields.tag = value;
    });
    parser.on('fieldsLimit', () => fail(badRequest(`Too many fields: at most ${MAX_FIELDS} besides the file`)));
    parser.on('error', (err) => fail(unreadable(err)));

    parser.on('finish', () => {
      if (settled) return;
      if (!file) {
        fail(badRequest(NO_FILE_MESSAGE));
        return;
      }
      const { originalName } = file;
      // The body is parsed; the file's last bytes may still be on their way to the disk.
      void file.written.then((size) => {
        if (settled) return;
        settled = true;
        releaseIfFree();
        resolve({ tempPath, originalName, size, fields });
      }, () => undefined); // handled where `written` is created
    });

    // A client that goes away mid-upload: the body fails before its end. finished() also
    // reports a body that had already failed before this function ran.
    finished(body, (err) => {
      if (err) fail(badRequest(`The upload was interrupted: ${err.message}`));
    });

    body.pipe(parser);
  });
}

/** An error of the file system (ENOSPC, EACCES…), as opposed to one of the body. */
function isSystemCallError(err: unknown): err is NodeJS.ErrnoException {
  return typeof (err as { syscall?: unknown }).syscall === 'string';
}
