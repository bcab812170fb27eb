// Checks a job's options against an app's option table. Every problem is reported at once, each
// message naming the option and the fix, because a client that gets one error per round trip
// gives up; caesar-rest stopped at the first error and never checked ranges.

import type { OptionError, OptionSpec, OptionValue } from './types.ts';
import { DECIMAL_TEXT, INTEGER_TEXT } from './numberSyntax.ts';

export type ValidationResult =
  | { ok: true; values: Map<string, OptionValue> }
  | { ok: false; errors: OptionError[] };

// Whitespace would split a config value into tokens; control characters have no business in it.
const UNSAFE_TEXT = /[\s\p{Cc}]/u;

/** Renders a received value for an error message, short and unambiguous ("yes" vs yes). */
function shown(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  // JSON.stringify yields undefined for undefined, functions and symbols: name their type instead.
  const text = (JSON.stringify(value) as string | undefined) ?? typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function rangeText(spec: OptionSpec): string {
  const noun = spec.kind === 'int' ? 'an integer' : 'a number';
  return spec.min !== undefined && spec.max !== undefined ? `${noun} between ${spec.min} and ${spec.max}` : noun;
}

/** Reads an int or float from a JSON number or a plain numeric string; undefined if it is neither. */
function readNumber(spec: OptionSpec, raw: unknown): number | undefined {
  let n: number | undefined;
  if (typeof raw === 'number') n = raw;
  // caesar-rest clients sometimes send numbers as strings; accept only plain numeric text.
  else if (typeof raw === 'string' && (spec.kind === 'int' ? INTEGER_TEXT : DECIMAL_TEXT).test(raw)) n = Number(raw);
  if (n === undefined || !Number.isFinite(n)) return undefined;
  if (spec.kind === 'int' && !Number.isSafeInteger(n)) return undefined;
  return n;
}

type Checked = { value: OptionValue } | { error: string };

function checkValue(spec: OptionSpec, raw: unknown): Checked {
  const prefix = `option '${spec.name}'`;
  if (typeof raw === 'string' && UNSAFE_TEXT.test(raw)) {
    return { error: `${prefix}: value must not contain whitespace or control characters, got ${shown(raw)}` };
  }
  switch (spec.kind) {
    case 'flag':
      return typeof raw === 'boolean' ? { value: raw } : { error: `${prefix} is a flag: use true or false, got ${shown(raw)}` };
    case 'int':
    case 'float': {
      const n = readNumber(spec, raw);
      const outOfRange = n !== undefined && ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max));
      if (n === undefined || outOfRange) return { error: `${prefix}: expected ${rangeText(spec)}, got ${shown(raw)}` };
      return { value: n };
    }
    case 'enum': {
      const labels = (spec.enumValues ?? []).map((v) => v.label);
      if (typeof raw !== 'string') return { error: `${prefix}: expected one of ${labels.join(', ')}, got ${shown(raw)}` };
      const match = labels.find((l) => l === raw) ?? labels.find((l) => l.toLowerCase() === raw.toLowerCase());
      return match !== undefined ? { value: match } : { error: `${prefix}: ${shown(raw)} is not one of ${labels.join(', ')}` };
    }
  }
}

/** Levenshtein distance; option names are short, so the quadratic table is cheap. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest known option name, if it is close enough to be a plausible typo. */
export function suggestOption(name: string, known: string[]): string | undefined {
  const wanted = name.toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate);
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

/**
 * Validates job options (gateway-level keys already stripped by the caller). Values come back
 * normalised: numeric strings become numbers, enum labels become their canonical spelling, and
 * flags stay booleans (false means "not set"). `appName` only improves the unknown-option message.
 */
export function validateAppOptions(
  inputs: Record<string, unknown>,
  specs: OptionSpec[],
  appName?: string,
): ValidationResult {
  const forApp = appName === undefined ? '' : ` for app ${appName}`;
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values = new Map<string, OptionValue>();
  const errors: OptionError[] = [];
  for (const [option, raw] of Object.entries(inputs)) {
    const spec = byName.get(option);
    if (spec === undefined) {
      const suggestion = suggestOption(option, [...byName.keys()]);
      const hint = suggestion === undefined ? '' : ` (did you mean '${suggestion}'?)`;
      errors.push({ option, message: `unknown option '${option}'${forApp}${hint}` });
      continue;
    }
    const checked = checkValue(spec, raw);
    if ('error' in checked) errors.push({ option, message: checked.error });
    else values.set(option, checked.value);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values };
}
