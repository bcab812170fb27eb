// Writes a synthetic FITS image (noise plus three Gaussian sources at known positions) for
// trying the gateway by hand:  npx tsx scripts/make-test-fits.ts /tmp/field.fits
import { writeFileSync } from 'node:fs';
import { syntheticImage } from '../test/support/syntheticFits.ts';

const target = process.argv[2] ?? 'field.fits';
const image = syntheticImage({ width: 512, height: 512, sources: [
  { x: 100, y: 120, peak: 0.05, sigma: 2 },
  { x: 300, y: 200, peak: 0.08, sigma: 2.5 },
  { x: 420, y: 400, peak: 0.04, sigma: 2 },
] });
writeFileSync(target, image.bytes);
console.log(`wrote ${target}: 512x512 float32, sources at ${image.sources.map((s) => `(${s.x},${s.y})`).join(' ')}`);
