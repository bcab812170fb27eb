// What the event loop and an upload thread say to each other. Each upload has an id, unique
// within its thread; its bytes cross as transferred ArrayBuffers (moved, not copied).
import { HttpError } from '../http/httpError.ts';
import type { MultipartUpload, MultipartUploadOptions } from './multipartBody.ts';

export type ToUploadThread =
  | { type: 'start'; id: number; contentType: string | undefined; options: MultipartUploadOptions }
  /** The next `length` bytes of the body, at the start of `bytes`. */
  | { type: 'bytes'; id: number; bytes: ArrayBuffer; length: number }
  | { type: 'end'; id: number }
  /** The request failed (the client went away): the upload fails with this reason. */
  | { type: 'abort'; id: number; reason: string };

export type FromUploadThread =
  /** `bytes` more bytes of the body are parsed and written; their buffers come back for reuse. */
  | { type: 'consumed'; id: number; bytes: number; buffers: ArrayBuffer[] }
  /** The last message about an upload: the partial file, if any, is already removed. */
  | { type: 'done'; id: number; upload: MultipartUpload }
  | { type: 'failed'; id: number; error: SerializedError };

/** An error as it crosses threads: an HttpError keeps its status and code, a system call error
 *  (ENOSPC…) its errno code and syscall, anything else its message. */
export interface SerializedError {
  message: string;
  httpStatus?: number;
  code?: string;
  syscall?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof HttpError) return { message: err.message, httpStatus: err.httpStatus, code: err.code };
  const { message, code, syscall } = err as NodeJS.ErrnoException;
  return { message: String(message), code, syscall };
}

export function deserializeError(error: SerializedError): Error {
  if (error.httpStatus !== undefined) return new HttpError(error.httpStatus, error.code ?? 'bad_request', error.message);
  return Object.assign(new Error(error.message), { code: error.code, syscall: error.syscall });
}
