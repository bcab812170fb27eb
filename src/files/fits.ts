// FITS is recognised by content, not by name: the first header card of a FITS file is
// "SIMPLE  =                    T" (keyword padded to 8 columns, value T in column 30).
import { open } from 'node:fs/promises';

const FITS_FIRST_CARD = /^SIMPLE {2}= {20}T/;

export function looksLikeFits(head: Buffer): boolean {
  return FITS_FIRST_CARD.test(head.subarray(0, 30).toString('latin1'));
}

export async function fileLooksLikeFits(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(30);
    const { bytesRead } = await handle.read(head, 0, 30, 0);
    return bytesRead === 30 && looksLikeFits(head);
  } finally {
    await handle.close();
  }
}
