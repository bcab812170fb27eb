// /upload, /download(-id)/<uuid>, /fileids, /delete/<uuid>.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { FileRow } from '../../db/rows.ts';
import { FileRejectedError, type FileService } from '../../files/fileService.ts';
import type { FileRepository } from '../../files/fileRepository.ts';
import { fileBody } from '../fileBody.ts';
import { HttpError, notFound } from '../httpError.ts';
import { ownerOf, scopeOf } from '../owner.ts';
import { parseRange } from '../range.ts';
import { routeParam } from '../params.ts';
import type { GatewayMetrics } from '../../observability/metrics.ts';
import { fileTooLarge } from '../../uploads/multipartBody.ts';
import type { UploadReceiver } from '../../uploads/uploadThreads.ts';

export interface FileRoutesDeps {
  files: FileRepository;
  fileService: FileService;
  tempDir: string;
  maxUploadBytes: number;
  /** Parses upload bodies and writes their files (off the event loop). */
  uploads: UploadReceiver;
  metrics?: GatewayMetrics;
  /** Refuses (413) bytes that would take the user over their storage quota. */
  checkStorage?(owner: string, incomingBytes: number): Promise<void>;
}

export function fileView(file: FileRow) {
  return {
    fileid: file.id, filename_orig: file.filename_orig, fileext: file.fileext,
    filesize: Number(file.size_bytes) / 1e6, filedate: file.created_at, tag: file.tag,
  };
}

export function fileRoutes(deps: FileRoutesDeps): Router {
  const router = new Router();

  router.post('/upload', async (ctx) => {
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > deps.maxUploadBytes) throw fileTooLarge(deps.maxUploadBytes);
    if (!ctx.is('multipart/form-data')) {
      throw new HttpError(415, 'unsupported_media_type', "Send the file as multipart/form-data in a field named 'file'");
    }
    // Refuse before receiving when the declared size already breaks the quota, and check the real
    // size again once it is on disk (in its temporary directory, removed either way).
    await deps.checkStorage?.(ownerOf(ctx), declared);
    const tempDir = await mkdtemp(path.join(deps.tempDir, 'upload-'));
    try {
      const upload = await deps.uploads.receive(ctx.req, { tempDir, maxFileBytes: deps.maxUploadBytes });
      await deps.checkStorage?.(ownerOf(ctx), upload.size);
      const tag = upload.fields.tag !== '' ? upload.fields.tag : undefined;
      const row = await deps.fileService.accept(ownerOf(ctx), upload, tag).catch(rethrowRejection);
      deps.metrics?.bytesUploaded.inc(upload.size);
      ctx.body = {
        uuid: row.id, filename_orig: row.filename_orig, format: row.format, size: Number(row.size_bytes) / 1e6,
        date: row.created_at, tag: row.tag, path: row.stored_path, status: 'File uploaded with success',
      };
    } finally {
      await rm(tempDir, { recursive: true, force: true });
    }
  });

  const download = async (ctx: Context) => {
    const file = await ownedFile(deps.files, ctx, routeParam(ctx, 'uuid'));
    const size = Number(file.size_bytes);
    ctx.attachment(file.filename_orig);
    ctx.set('Accept-Ranges', 'bytes');
    ctx.type = 'application/fits';
    const range = parseRange(ctx.get('range'), size);
    if (range === 'unsatisfiable') {
      ctx.set('Content-Range', `bytes */${size}`);
      throw new HttpError(416, 'range_not_satisfiable', `Requested range not satisfiable (file has ${size} bytes)`);
    }
    if (range) {
      ctx.status = 206;
      ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
      ctx.length = range.end - range.start + 1;
      deps.metrics?.countServed(ctx, 'download', ctx.length);
      ctx.body = fileBody(file.stored_path, range);
    } else {
      ctx.length = size;
      deps.metrics?.countServed(ctx, 'download', size);
      ctx.body = fileBody(file.stored_path);
    }
  };
  for (const route of ['/download/:uuid', '/download-id/:uuid']) {
    router.get(route, download);
    router.post(route, download);
  }

  router.get('/fileids', async (ctx) => {
    ctx.body = (await deps.files.listOwned(scopeOf(ctx))).map(fileView);
  });

  const remove = async (ctx: Context) => {
    const file = await ownedFile(deps.files, ctx, routeParam(ctx, 'uuid'));
    await deps.fileService.delete(file).catch(rethrowRejection);
    ctx.body = { status: 'File deleted and removed from DB' };
  };
  router.get('/delete/:uuid', remove);
  router.post('/delete/:uuid', remove);
  router.delete('/file/:uuid', remove);
  return router;
}

async function ownedFile(files: FileRepository, ctx: Context, uuid: string): Promise<FileRow> {
  const file = /^[0-9a-f]{32}$/.test(uuid) ? await files.findOwned(scopeOf(ctx), uuid) : undefined;
  if (!file) throw notFound(`File with uuid ${uuid} not found on the system!`);
  return file;
}

function rethrowRejection(err: unknown): never {
  if (err instanceof FileRejectedError) {
    const code = err.httpStatus === 415 ? 'unsupported_media_type' : err.httpStatus === 409 ? 'in_use' : 'bad_request';
    throw new HttpError(err.httpStatus, code, err.message);
  }
  throw err;
}
