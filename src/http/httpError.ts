// Errors the HTTP layer answers with. Every error body carries `status` (what caesar-rest
// clients read) and a structured `error` beside it.

export class HttpError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const badRequest = (message: string, details?: unknown) => new HttpError(400, 'bad_request', message, details);
