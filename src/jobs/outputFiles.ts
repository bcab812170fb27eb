// Reads one file (a catalogue, the plot) out of a job's collected tar.gz without unpacking the
// rest. Catalogues and plots are small; the size cap keeps a surprise from filling memory.
import { list, type ReadEntry } from 'tar';

const MAX_MEMBER_BYTES = 256 * 1024 * 1024;

export class OutputMemberTooLargeError extends Error {}

export async function readOutputMember(tarGzPath: string, member: string): Promise<Buffer | undefined> {
  let found: Buffer | undefined;
  let tooLarge = false;
  const wanted = new Set([member, `./${member}`]);
  await list({
    file: tarGzPath,
    filter: (path: string) => wanted.has(path),
    onReadEntry: (entry: ReadEntry) => {
      if (entry.type !== 'File' || entry.size > MAX_MEMBER_BYTES) {
        tooLarge = entry.size > MAX_MEMBER_BYTES;
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => { found = Buffer.concat(chunks); });
    },
  });
  if (tooLarge) throw new OutputMemberTooLargeError(`${member} is larger than ${MAX_MEMBER_BYTES} bytes; download the whole output instead`);
  return found;
}
