// An upload thread: parses the multipart bodies the event loop hands it and writes their files
// (see uploadThreads.ts for why). Several uploads share one thread; each is a Readable fed with
// the bytes as they come, parsed by parseMultipartBody().
import { Readable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { parseMultipartBody } from './multipartBody.ts';
import { serializeError, type FromUploadThread, type ToUploadThread } from './threadMessages.ts';

if (!parentPort) throw new Error('uploadThread.ts runs as a worker thread (see uploadThreads.ts)');
const port = parentPort;
const send = (message: FromUploadThread, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const bodies = new Map<number, Readable>();

function start(id: number, contentType: string | undefined, options: Parameters<typeof parseMultipartBody>[2]): void {
  // Pushed to from messages. The parser's pipe pauses it when the file falls behind, and then
  // nothing is released, no 'consumed' goes back and the event loop stops reading the socket.
  const body = new Readable({ read() {} });
  bodies.set(id, body);
  // Each chunk is a buffer of its own that came from the event loop; it goes back once free, to
  // be filled again, so an upload allocates nothing after its first few MiB (and no garbage
  // piles up here until a collection).
  const released = (chunks: Buffer[]) => {
    const buffers = chunks.map((chunk) => chunk.buffer as ArrayBuffer);
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    send({ type: 'consumed', id, bytes, buffers }, buffers);
  };
  void parseMultipartBody(body, contentType, options, { released }).then(
    (upload) => send({ type: 'done', id, upload }),
    (err: unknown) => send({ type: 'failed', id, error: serializeError(err) }),
  ).finally(() => bodies.delete(id));
}

port.on('message', (message: ToUploadThread) => {
  if (message.type === 'start') {
    start(message.id, message.contentType, message.options);
    return;
  }
  // Messages for an upload that already failed (the event loop had sent them before it knew).
  const body = bodies.get(message.id);
  if (!body) return;
  if (message.type === 'bytes') body.push(Buffer.from(message.bytes, 0, message.length));
  else if (message.type === 'end') body.push(null);
  else body.destroy(new Error(message.reason));
});
