// Uploaded files: accepted only when their content is FITS, stored under a fresh uuid, and
// removed only when no unfinished job still needs them.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FileRow } from '../db/rows.ts';
import type { JobRepository } from '../jobs/jobRepository.ts';
import { fileLooksLikeFits } from './fits.ts';
import type { FileRepository } from './fileRepository.ts';

export interface ReceivedUpload {
  /** Where the body parser left the bytes (a private temporary directory). */
  tempPath: string;
  originalName: string;
  size: number;
}

export class FileRejectedError extends Error {
  constructor(readonly httpStatus: 400 | 409 | 415, message: string) {
    super(message);
  }
}

export class FileService {
  constructor(
    private readonly files: FileRepository,
    private readonly jobs: JobRepository,
    private readonly uploadDir: string,
  ) {}

  async accept(owner: string, upload: ReceivedUpload, tag: string | undefined): Promise<FileRow> {
    if (upload.size === 0) throw new FileRejectedError(400, 'The uploaded file is empty');
    if (!(await fileLooksLikeFits(upload.tempPath))) {
      throw new FileRejectedError(415, `File ${upload.originalName} is not FITS (its first card is not "SIMPLE  =  T"); only FITS images are accepted`);
    }
    const id = randomUUID().replaceAll('-', '');
    await mkdir(this.uploadDir, { recursive: true });
    const storedPath = path.join(this.uploadDir, `${id}.fits`);
    await rename(upload.tempPath, storedPath);
    const ext = path.extname(upload.originalName).replace(/^\./, '').toLowerCase() || 'fits';
    const row: FileRow = {
      id, owner, filename_orig: path.basename(upload.originalName) || `${id}.fits`, fileext: ext, format: 'fits',
      size_bytes: upload.size, tag: tag ?? null, stored_path: storedPath,
      created_at: new Date().toISOString(),
    };
    try {
      await this.files.insert(row);
    } catch (err) {
      await rm(storedPath, { force: true });
      throw err;
    }
    return row;
  }

  async delete(file: FileRow): Promise<void> {
    const users = await this.jobs.countActiveUsingFile(file.id);
    if (users > 0) {
      throw new FileRejectedError(409, `File ${file.id} is used by ${users} unfinished job(s); cancel them or wait until they finish`);
    }
    await this.files.remove(file.id);
    await rm(file.stored_path, { force: true });
  }
}
