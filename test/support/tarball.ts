// Reads a tar.gz (as downloaded from /job/<id>/output) into memory: name → contents.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';

export interface TarEntryInfo {
  type: string;
  linkpath?: string;
  data: Buffer;
}

export async function readTarGz(bytes: Buffer): Promise<Map<string, TarEntryInfo>> {
  const entries = new Map<string, TarEntryInfo>();
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        entries.set(entry.path.replace(/^\.\//, ''), { type: entry.type, linkpath: entry.linkpath, data: Buffer.concat(chunks) });
      });
    },
  });
  await pipeline(Readable.from([bytes]), parser);
  return entries;
}
