// Number syntax shared by the table parser and the option validator, so that what a table may
// declare and what a client may send are judged by the same rules.

/** Optionally signed digits only: "5", "-3". No "5.0", no "1e3", no spaces. */
export const INTEGER_TEXT = /^[+-]?\d+$/;

/** Plain decimal or scientific notation: "0.5", "1.", ".5", "1.e-2", "-3E4". No hex, no "Infinity". */
export const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Renders a number so CAESAR's parser reads it back: integers without a decimal point. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`cannot write non-finite number ${n} to a config file`);
  return Object.is(n, -0) ? '0' : String(n);
}
