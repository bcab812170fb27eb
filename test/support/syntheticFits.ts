// Makes FITS images for the tests: Gaussian noise plus Gaussian sources injected at known
// positions, so a catalogue can be checked against the truth. Deterministic (seeded).

export interface InjectedSource {
  x: number;
  y: number;
  peak: number;
  sigma: number;
}

export interface SyntheticImage {
  bytes: Buffer;
  sources: InjectedSource[];
  noise: number;
}

function card(key: string, value: string): string {
  return `${key.padEnd(8)}= ${value.padStart(20)}`.padEnd(80);
}

function header(width: number, height: number): Buffer {
  const cards = [
    card('SIMPLE', 'T'), card('BITPIX', '-32'), card('NAXIS', '2'),
    card('NAXIS1', String(width)), card('NAXIS2', String(height)),
    card('BMAJ', '0.002777'), card('BMIN', '0.002777'), card('BPA', '0.0'),
    card('CDELT1', '-0.000416'), card('CDELT2', '0.000416'),
    `${'END'.padEnd(80)}`,
  ];
  const text = cards.join('');
  return Buffer.from(text.padEnd(Math.ceil(text.length / 2880) * 2880, ' '), 'latin1');
}

/** A small linear congruential generator: reproducible noise without a dependency. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
}

export function syntheticImage(options: { width?: number; height?: number; seed?: number; sources?: InjectedSource[] } = {}): SyntheticImage {
  const width = options.width ?? 256;
  const height = options.height ?? 256;
  const noise = 0.001;
  const sources = options.sources ?? [
    { x: 40, y: 50, peak: 0.05, sigma: 2 },
    { x: 180, y: 70, peak: 0.08, sigma: 2.5 },
    { x: 120, y: 200, peak: 0.04, sigma: 2 },
  ];
  const random = seededRandom(options.seed ?? 42);
  const pixels = new Float32Array(width * height);
  for (let i = 0; i < pixels.length; i += 1) {
    // Box–Muller
    const u = random();
    const v = random();
    pixels[i] = noise * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  for (const s of sources) {
    const r = Math.ceil(5 * s.sigma);
    for (let y = Math.max(0, s.y - r); y <= Math.min(height - 1, s.y + r); y += 1) {
      for (let x = Math.max(0, s.x - r); x <= Math.min(width - 1, s.x + r); x += 1) {
        pixels[y * width + x]! += s.peak * Math.exp(-((x - s.x) ** 2 + (y - s.y) ** 2) / (2 * s.sigma ** 2));
      }
    }
  }
  const data = Buffer.alloc(Math.ceil((pixels.length * 4) / 2880) * 2880);
  pixels.forEach((value, i) => data.writeFloatBE(value, i * 4));
  return { bytes: Buffer.concat([header(width, height), data]), sources, noise };
}

/** A valid FITS file with a header and no image: sfinder has nothing to work on and fails. */
export function headerOnlyFits(): Buffer {
  const text = [card('SIMPLE', 'T'), card('BITPIX', '8'), card('NAXIS', '0'), 'END'.padEnd(80)].join('');
  return Buffer.from(text.padEnd(2880, ' '), 'latin1');
}

/**
 * `fits` followed by an image extension of `bytes` zero bytes (1-D, 8-bit): a file as large as
 * needed whose primary image is still the one sfinder reads. For transfers that must take a while.
 */
export function withBulkExtension(fits: Buffer, bytes: number): Buffer {
  const text = ["XTENSION= 'IMAGE   '".padEnd(80), card('BITPIX', '8'), card('NAXIS', '1'), card('NAXIS1', String(bytes)),
    card('PCOUNT', '0'), card('GCOUNT', '1'), 'END'.padEnd(80)].join('');
  const header = Buffer.from(text.padEnd(2880, ' '), 'latin1');
  return Buffer.concat([fits, header, Buffer.alloc(Math.ceil(bytes / 2880) * 2880)]);
}
