// FITS inputs: a tiny real image for jobs (the tests' generator) and arbitrarily large files
// produced as a stream of chunks, so a 2 GiB upload never sits in memory.
import { randomBytes } from 'node:crypto';
import { syntheticImage } from '../../test/support/syntheticFits.ts';

const BLOCK = 2880;

/** A 64×64 image with one source: enough for the stand-in sfinder, cheap to run. */
export function tinyFits(): Buffer {
  return syntheticImage({ width: 64, height: 64, sources: [{ x: 32, y: 32, peak: 0.05, sigma: 2 }] }).bytes;
}

function card(key: string, value: string): string {
  return `${key.padEnd(8)}= ${value.padStart(20)}`.padEnd(80);
}

export interface LargeFits {
  /** Total bytes: header + data + padding to a whole FITS block. */
  size: number;
  /** Yields the file's bytes in ≤ 1 MiB chunks (the same random MiB reused: no memory growth). */
  chunks(): Generator<Buffer>;
}

/** A float32 image of `dataBytes` bytes (a multiple of 64 KiB): rows of 16,384 pixels. */
export function largeFits(dataBytes: number): LargeFits {
  const width = 16_384;
  const height = Math.ceil(dataBytes / (width * 4));
  const data = width * height * 4;
  const text = [card('SIMPLE', 'T'), card('BITPIX', '-32'), card('NAXIS', '2'), card('NAXIS1', String(width)),
    card('NAXIS2', String(height)), 'END'.padEnd(80)].join('');
  const header = Buffer.from(text.padEnd(BLOCK, ' '), 'latin1');
  const padding = Buffer.alloc((BLOCK - (data % BLOCK)) % BLOCK);
  const pattern = randomBytes(1024 * 1024);
  return {
    size: header.length + data + padding.length,
    *chunks() {
      yield header;
      for (let sent = 0; sent < data; sent += pattern.length) yield pattern.subarray(0, Math.min(pattern.length, data - sent));
      if (padding.length > 0) yield padding;
    },
  };
}
