// Diagnostic server for the upload benchmark: plain Node http that writes the request body to a
// file as it arrives (no multipart parsing, no hashing, no FITS check), with a plain fs write
// stream. BENCH_UPLOAD_FILE names the file; with BENCH_UPLOAD_DISCARD=1 the
// body is read and dropped (the socket receive alone). Prints {"port": N}.
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';

const file = process.env.BENCH_UPLOAD_FILE ?? '/tmp/bench-bare-upload.bin';
const discard = process.env.BENCH_UPLOAD_DISCARD === '1';
const server = http.createServer((req, res) => {
  if (discard) {
    req.on('end', () => res.end('{"status":"read"}')).resume();
    return;
  }
  // The usual Node way: an fs write stream (8 MiB buffer), its writes on libuv's thread pool —
  // where the gateway writes from an upload thread of its own (src/uploads/uploadThreads.ts).
  pipeline(req, createWriteStream(file, { highWaterMark: 8 * 1024 * 1024 })).then(
    () => res.end('{"status":"stored"}'),
    (err: Error) => { res.statusCode = 500; res.end(JSON.stringify({ status: err.message })); },
  );
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
