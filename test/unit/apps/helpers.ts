// Shared fixtures for the app-registry tests.

import { loadAppRegistry } from '../../../src/apps/registry.ts';
import type { AppDescriptor, OptionSpec } from '../../../src/apps/types.ts';

export function caesarApp(): AppDescriptor {
  const app = loadAppRegistry().get('caesar');
  if (app === undefined) throw new Error('caesar app missing from the default registry');
  return app;
}

export function optionSpec(app: AppDescriptor, name: string): OptionSpec {
  const spec = app.options.find((o) => o.name === name);
  if (spec === undefined) throw new Error(`no option ${name}`);
  return spec;
}

/**
 * Reads a config file the way CAESAR's ConfigParser does: skip empty lines and lines starting
 * with '#', '/', '*', space or tab; otherwise the second token must be '=' and the third is the value.
 * Returns [key, value] pairs in file order and throws on lines CAESAR would ignore.
 */
export function parseCaesarConfig(text: string): [string, string][] {
  if (!text.endsWith('\n')) throw new Error('config must end with a newline');
  const pairs: [string, string][] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '' || '#/* \t'.includes(line.charAt(0))) continue;
    const match = /^(\S+) = (\S+)$/.exec(line);
    if (match === null) throw new Error(`line CAESAR would not read as key = value: ${JSON.stringify(line)}`);
    pairs.push([match[1] ?? '', match[2] ?? '']);
  }
  return pairs;
}
