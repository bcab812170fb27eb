// Writes the CAESAR config file from the app's config table and validated option values,
// reproducing what the original submitter script writes, line for line.

import type { AppDescriptor, ConfigLine, OptionSpec, OptionValue } from './types.ts';
import { formatNumber } from './numberSyntax.ts';

export interface RenderInput {
  /** The input path exactly as FindSourceMPI should open it. */
  inputFile: string;
  /** The input's basename minus its last extension; names every output file. */
  base: string;
}

// CAESAR's parser splits on whitespace and treats `|` as the start of a comment, so any of these
// inside a value would silently change the configuration. Validation already rules them out;
// this is the last line of defence.
const UNSAFE = /[\s|\p{Cc}]/u;

function safe(key: string, text: string): string {
  if (text === '' || UNSAFE.test(text)) {
    throw new Error(`config value for ${key} is empty or contains whitespace, "|" or a control character: ${JSON.stringify(text)}`);
  }
  return text;
}

/** The config text of a non-flag option's value, or of its default when not given. */
function valueText(spec: OptionSpec, given: OptionValue | undefined): string {
  if (spec.kind === 'enum') {
    const label = given ?? spec.default;
    const entry = spec.enumValues?.find((v) => v.label === label);
    if (entry === undefined) throw new Error(`option ${spec.name}: ${String(label)} is not an enum label`);
    return entry.code;
  }
  // The default is written verbatim ("1.0", "1.e-2"), exactly as the submitter script writes it.
  if (given === undefined) return spec.default ?? '';
  if (typeof given !== 'number') throw new Error(`option ${spec.name}: expected a number, got ${JSON.stringify(given)}`);
  if (spec.kind === 'int' && !Number.isInteger(given)) throw new Error(`option ${spec.name}: ${given} is not an integer`);
  return formatNumber(given);
}

/** An app's options by name: the config has a line per option, and a scan for each cost 0.3 ms a job. */
const optionIndexes = new WeakMap<AppDescriptor, Map<string, OptionSpec>>();

function optionNamed(app: AppDescriptor, name: string): OptionSpec | undefined {
  let index = optionIndexes.get(app);
  if (!index) optionIndexes.set(app, (index = new Map(app.options.map((o) => [o.name, o]))));
  return index.get(name);
}

function optionText(app: AppDescriptor, line: ConfigLine, name: string, values: Map<string, OptionValue>): string {
  const spec = optionNamed(app, name);
  // alwaysSet names (save-regions, save-catalog-to-json) are true_if_set flags the gateway always passes.
  if (spec === undefined) {
    if (app.alwaysSet.includes(name)) return 'true';
    throw new Error(`config key ${line.key} refers to unknown option ${name}`);
  }
  const given = values.get(name);
  if (spec.kind === 'flag' && given !== undefined && typeof given !== 'boolean') {
    throw new Error(`option ${name} is a flag, got ${JSON.stringify(given)}`);
  }
  const flagSet = given === true || app.alwaysSet.includes(name);
  switch (spec.configRule.type) {
    case 'true_if_set':
      return flagSet ? 'true' : 'false';
    case 'false_if_set':
      return flagSet ? 'false' : 'true';
    case 'value':
    case 'bmin':
      return valueText(spec, given);
    case 'tilestep':
      // Passing the option at all turns overlap on, whatever its value.
      if (line.key === spec.configRule.overlapKey) return given === undefined ? 'false' : 'true';
      return valueText(spec, given);
    case 'not_in_config':
      throw new Error(`config key ${line.key} refers to option ${name}, which is marked not_in_config`);
  }
}

function lineValue(app: AppDescriptor, line: ConfigLine, values: Map<string, OptionValue>, input: RenderInput): string {
  switch (line.source.type) {
    case 'literal':
      return line.source.text;
    case 'option':
      return optionText(app, line, line.source.option, values);
    case 'derived':
      return line.source.pattern === 'inputfile' ? input.inputFile : line.source.pattern.replaceAll('<base>', input.base);
  }
}

/**
 * Renders the whole config file: every table line in order as `key = value`, a `#` banner per
 * section, ending with a newline (CAESAR's parser drops an unterminated last line).
 */
export function renderAppConfig(app: AppDescriptor, values: Map<string, OptionValue>, input: RenderInput): string {
  safe('inputFile', input.inputFile);
  safe('<base>', input.base);
  for (const name of values.keys()) {
    if (!app.options.some((o) => o.name === name)) throw new Error(`value given for unknown option ${name}`);
  }
  const out: string[] = [];
  let section: string | undefined;
  for (const line of app.configLines) {
    if (line.section !== section) {
      if (section !== undefined) out.push('');
      out.push(`###### ${line.section} ######`);
      section = line.section;
    }
    out.push(`${line.key} = ${safe(line.key, lineValue(app, line, values, input))}`);
  }
  return `${out.join('\n')}\n`;
}
