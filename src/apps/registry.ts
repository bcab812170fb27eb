// Loads every app folder (<appsDir>/<name>/app.json + its tables) once at start-up. Adding an
// app means adding a folder; any inconsistency throws here so a broken app never starts serving.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { AppDescriptor, AppManifest } from './types.ts';
import { parseConfigTable, parseOptionTable } from './optionTable.ts';

/** The directory holding the app folders shipped with the gateway (this file's directory). */
export const defaultAppsDir: string = resolve(fileURLToPath(new URL('.', import.meta.url)));

export interface AppRegistry {
  /** Looks an app up by its name or one of its aliases (exact spelling). */
  get(nameOrAlias: string): AppDescriptor | undefined;
  /** Canonical app names, sorted. */
  names(): string[];
}

const fileName = z.string().regex(/^[\w.-]+$/, 'must be a plain file name inside the app folder');

const manifestSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/),
  aliases: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/)),
  description: z.string().min(1),
  template: z.string().min(1),
  optionsFile: fileName,
  configFile: fileName,
  alwaysSet: z.array(z.string()),
  outputs: z.record(z.string(), z.string().min(1)),
});

function readTable<T>(dir: string, file: string, parse: (text: string) => T): T {
  const path = join(dir, file);
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Cross-checks the two tables so that rendering can never meet a dangling reference. */
function checkConsistency(app: AppDescriptor): void {
  const problems: string[] = [];
  const byName = new Map(app.options.map((o) => [o.name, o]));
  for (const name of app.alwaysSet) {
    const spec = byName.get(name);
    if (spec !== undefined && spec.kind !== 'flag') problems.push(`alwaysSet ${name} is not a flag`);
  }
  for (const line of app.configLines) {
    if (line.source.type !== 'option') continue;
    const name = line.source.option;
    const spec = byName.get(name);
    if (spec === undefined && !app.alwaysSet.includes(name)) problems.push(`config key ${line.key} uses unknown option ${name}`);
    if (spec !== undefined && !spec.configKeys.includes(line.key)) {
      problems.push(`config key ${line.key} uses option ${name}, whose config_keys do not list it`);
    }
  }
  for (const spec of app.options) {
    for (const key of spec.configKeys) {
      const line = app.configLines.find((l) => l.key === key);
      if (line?.source.type !== 'option' || line.source.option !== spec.name) {
        problems.push(`option ${spec.name} lists config key ${key}, but no config line takes it from that option`);
      }
    }
  }
  if (problems.length > 0) throw new Error(`app ${app.name} (${app.dir}) is inconsistent: ${problems.join('; ')}`);
}

function loadApp(dir: string, folder: string): AppDescriptor {
  const manifestPath = join(dir, 'app.json');
  const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(manifestPath, 'utf8')));
  if (!parsed.success) throw new Error(`${manifestPath}: ${z.prettifyError(parsed.error)}`);
  const manifest: AppManifest = parsed.data;
  if (manifest.name !== folder) throw new Error(`${manifestPath}: name "${manifest.name}" must match its folder "${folder}"`);
  const app: AppDescriptor = {
    ...manifest,
    options: readTable(dir, manifest.optionsFile, parseOptionTable),
    configLines: readTable(dir, manifest.configFile, parseConfigTable),
    dir,
  };
  checkConsistency(app);
  return app;
}

/** Reads every `<appsDir>/<name>/app.json` with its tables (synchronously: start-up only). */
export function loadAppRegistry(appsDir: string = defaultAppsDir): AppRegistry {
  const root = resolve(appsDir);
  const byKey = new Map<string, AppDescriptor>();
  const canonical: string[] = [];
  const folders = readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, 'app.json')))
    .map((entry) => entry.name)
    .sort();
  for (const folder of folders) {
    const app = loadApp(join(root, folder), folder);
    for (const key of [app.name, ...app.aliases]) {
      const clash = byKey.get(key);
      if (clash !== undefined) throw new Error(`app name or alias "${key}" is used by both ${clash.name} and ${app.name}`);
      byKey.set(key, app);
    }
    canonical.push(app.name);
  }
  return {
    get: (nameOrAlias) => byKey.get(nameOrAlias),
    names: () => [...canonical],
  };
}
