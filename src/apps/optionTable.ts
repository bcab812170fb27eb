// Parsers for an app's option and config-line tables. They throw on the first malformed row,
// naming its line, because a bad table is a deployment error that must stop start-up.

import type { ConfigLine, ConfigRule, ConfigSource, EnumValue, OptionKind, OptionSpec } from './types.ts';
import { DECIMAL_TEXT, INTEGER_TEXT } from './numberSyntax.ts';

const OPTION_COLUMNS = ['option', 'kind', 'default', 'min', 'max', 'enum', 'category', 'advanced',
  'config_keys', 'config_value', 'subcategory', 'description'];
const CONFIG_COLUMNS = ['section', 'key', 'value', 'default_written'];
const KINDS: readonly string[] = ['flag', 'int', 'float', 'enum'] satisfies OptionKind[];

interface Row { line: number; cells: string[] }

class TableError extends Error {
  constructor(line: number, message: string) { super(`line ${line}: ${message}`); }
}

function readRows(tsv: string, columns: string[]): Row[] {
  const lines = tsv.split('\n').map((l) => l.replace(/\r$/, ''));
  const header = lines[0] ?? '';
  if (header !== columns.join('\t')) {
    throw new TableError(1, `header must be "${columns.join('<TAB>')}", got "${header}"`);
  }
  const rows: Row[] = [];
  lines.slice(1).forEach((text, i) => {
    const line = i + 2;
    if (text.trim() === '') return;
    const cells = text.split('\t');
    if (cells.length !== columns.length) {
      throw new TableError(line, `expected ${columns.length} tab-separated columns, got ${cells.length}`);
    }
    rows.push({ line, cells });
  });
  return rows;
}

function parseNumberCell(line: number, column: string, text: string): number | undefined {
  if (text === '') return undefined;
  if (!DECIMAL_TEXT.test(text)) throw new TableError(line, `${column} "${text}" is not a number`);
  return Number(text);
}

function parseEnumCell(line: number, text: string): EnumValue[] {
  const values = text.split(',').map((item) => {
    const [label = '', code, ...rest] = item.split('=');
    const bad = label === '' || code === '' || rest.length > 0 || /[\s|]/.test(item);
    if (bad) throw new TableError(line, `bad enum item "${item}"`);
    return { label, code: code ?? label, coded: code !== undefined };
  });
  // Either every label maps to a code or every label passes through: a mix is a typo.
  if (new Set(values.map((v) => v.coded)).size > 1) throw new TableError(line, 'enum mixes LABEL=code and bare labels');
  if (new Set(values.map((v) => v.label)).size !== values.length) throw new TableError(line, 'duplicate enum label');
  return values.map(({ label, code }) => ({ label, code }));
}

function parseRule(line: number, name: string, kind: OptionKind, keys: string[], text: string): ConfigRule {
  const isFlag = kind === 'flag';
  if (text === 'value' && !isFlag) return { type: 'value' };
  if ((text === 'true_if_set' || text === 'false_if_set') && isFlag) return { type: text };
  const notInConfig = /^not_in_config:\s*(\S.*)$/.exec(text);
  if (notInConfig?.[1]) {
    if (keys.length > 0) throw new TableError(line, 'not_in_config option must have no config_keys');
    return { type: 'not_in_config', note: notInConfig[1] };
  }
  // "beamFWHM=value and beamBmin=value (...)": the bmin case, every listed key gets the value.
  const shared = /^(\w+)=value and (\w+)=value\b/.exec(text);
  if (shared && !isFlag && sameSet([shared[1] ?? '', shared[2] ?? ''], keys)) return { type: 'bmin', note: text };
  // "useTileOverlap=true whenever --tilestep is passed (...)": the tilestep case.
  const givenness = /^(\w+)=true whenever --(\S+) is passed\b/.exec(text);
  if (givenness?.[1] && givenness[2] === name && !isFlag && keys.includes(givenness[1]) && keys.length > 1) {
    return { type: 'tilestep', note: text, overlapKey: givenness[1] };
  }
  throw new TableError(line, `config_value "${text}" is not a rule this parser knows for a ${kind} option`);
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function parseOptionRow({ line, cells }: Row): OptionSpec {
  const [name = '', kindText = '', def = '', minText = '', maxText = '', enumText = '', category = '',
    advanced = '', keysText = '', ruleText = '', subcategory = '', description = ''] = cells;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new TableError(line, `bad option name "${name}"`);
  if (!KINDS.includes(kindText)) throw new TableError(line, `kind "${kindText}" is not one of ${KINDS.join(', ')}`);
  const kind = kindText as OptionKind;
  if (advanced !== '0' && advanced !== '1') throw new TableError(line, `advanced must be 0 or 1, got "${advanced}"`);
  if (category === '') throw new TableError(line, 'category is empty');
  if (description.trim() === '') throw new TableError(line, `option ${name} has no description`);
  const configKeys = keysText === '' ? [] : keysText.split(',');
  if (configKeys.some((k) => !/^\w+$/.test(k))) throw new TableError(line, `bad config_keys "${keysText}"`);

  const spec: OptionSpec = {
    name, kind, category, advanced: advanced === '1', configKeys,
    configRule: parseRule(line, name, kind, configKeys, ruleText), description,
  };
  if (subcategory !== '') spec.subcategory = subcategory;
  if (kind === 'flag') {
    if (def + minText + maxText + enumText !== '') throw new TableError(line, 'a flag has no default, min, max or enum');
    return spec;
  }
  if (def === '') throw new TableError(line, `${kind} option ${name} needs a default`);
  spec.default = def;
  if (kind === 'enum') {
    if (minText + maxText !== '') throw new TableError(line, 'an enum has no min or max');
    spec.enumValues = parseEnumCell(line, enumText);
    if (!spec.enumValues.some((v) => v.label === def)) throw new TableError(line, `default "${def}" is not an enum label`);
    return spec;
  }
  if (enumText !== '') throw new TableError(line, 'only enum options have enum values');
  if (!(kind === 'int' ? INTEGER_TEXT : DECIMAL_TEXT).test(def)) throw new TableError(line, `default "${def}" is not a valid ${kind}`);
  spec.min = parseNumberCell(line, 'min', minText);
  spec.max = parseNumberCell(line, 'max', maxText);
  if (spec.min === undefined || spec.max === undefined) throw new TableError(line, `${kind} option needs min and max`);
  const d = Number(def);
  if (spec.min > spec.max || d < spec.min || d > spec.max) {
    throw new TableError(line, `default ${def} must lie in [min, max] = [${spec.min}, ${spec.max}]`);
  }
  return spec;
}

/** Parses options.tsv (columns as in OPTION_COLUMNS), in table order. */
export function parseOptionTable(tsv: string): OptionSpec[] {
  const seen = new Set<string>();
  return readRows(tsv, OPTION_COLUMNS).map((row) => {
    const spec = parseOptionRow(row);
    if (seen.has(spec.name)) throw new TableError(row.line, `duplicate option ${spec.name}`);
    seen.add(spec.name);
    return spec;
  });
}

function parseSource(line: number, text: string): ConfigSource {
  const option = /^\$\{option:([a-z0-9][a-z0-9-]*)\}$/.exec(text);
  if (option?.[1]) return { type: 'option', option: option[1] };
  const derived = /^\$\{derived:([^\s{}]+)\}$/.exec(text);
  if (derived?.[1]) return { type: 'derived', pattern: derived[1] };
  if (text.includes('${')) throw new TableError(line, `unknown placeholder in "${text}"`);
  if (!/^[^\s|]+$/.test(text)) throw new TableError(line, `literal value "${text}" is empty or has whitespace or "|"`);
  return { type: 'literal', text };
}

/** Parses config.tsv: every `key = value` line the config file gets, in file order. */
export function parseConfigTable(tsv: string): ConfigLine[] {
  const seen = new Set<string>();
  return readRows(tsv, CONFIG_COLUMNS).map(({ line, cells }) => {
    const [section = '', key = '', value = '', defaultWritten = ''] = cells;
    if (!/^\w+$/.test(key)) throw new TableError(line, `bad config key "${key}"`);
    if (seen.has(key)) throw new TableError(line, `duplicate config key ${key}`);
    seen.add(key);
    if (section.trim() === '' || defaultWritten === '') throw new TableError(line, 'section and default_written must not be empty');
    return { section, key, source: parseSource(line, value), defaultWritten };
  });
}
