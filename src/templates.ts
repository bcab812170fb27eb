// sbatch templates are files an admin edits (templates/*.sbatch); read once at start-up.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const defaultTemplatesDir = path.resolve(fileURLToPath(new URL('../templates', import.meta.url)));

export function loadTemplates(dir: string = defaultTemplatesDir): { get(name: string): string } {
  const cache = new Map<string, string>();
  return {
    get(name: string): string {
      if (!/^[\w.-]+$/.test(name)) throw new Error(`bad template name ${name}`);
      let text = cache.get(name);
      if (text === undefined) {
        text = readFileSync(path.join(dir, name), 'utf8');
        cache.set(name, text);
      }
      return text;
    },
  };
}
