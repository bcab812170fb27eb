// A deliberately small template language for sbatch scripts, so an admin can edit
// templates/*.sbatch without touching code, and no value can escape its place:
//   {{name}}      a directive value: must match SAFE_DIRECTIVE_VALUE, inserted as is
//   {{name:sh}}   a shell word: single-quoted
//   {{#name}}…{{/name}}  kept when the value is truthy; {{^name}}…{{/name}} when falsy.
// A line holding only a section tag disappears with its newline.
import { shellQuote } from '../remote/quote.ts';

export type TemplateValue = string | number | boolean | undefined;
export type TemplateValues = Record<string, TemplateValue>;

/** What may stand unquoted in an `#SBATCH --opt=VALUE` line: names and numbers only — no
 *  spaces, quotes, `#`, `$`, slashes, `%` patterns or newlines. */
const SAFE_DIRECTIVE_VALUE = /^[A-Za-z0-9_.:+=,-]+$/;
/** No value may carry a line break or other control character, quoted or not. */
const CONTROL = /\p{Cc}/u;

export class TemplateError extends Error {}

function lookup(values: TemplateValues, name: string): TemplateValue {
  if (!Object.hasOwn(values, name)) throw new TemplateError(`template uses {{${name}}}, which the gateway does not provide`);
  return values[name];
}

function renderSections(template: string, values: TemplateValues): string {
  const section = /^[ \t]*\{\{([#^])(\w+)\}\}[ \t]*\n([\s\S]*?)^[ \t]*\{\{\/\2\}\}[ \t]*\n|\{\{([#^])(\w+)\}\}([\s\S]*?)\{\{\/\5\}\}/gm;
  let previous: string;
  let out = template;
  do {
    previous = out;
    out = out.replace(section, (_m, blockKind?: string, blockName?: string, blockBody?: string, inlineKind?: string, inlineName?: string, inlineBody?: string) => {
      const kind = blockKind ?? inlineKind;
      const name = (blockName ?? inlineName)!;
      const body = blockBody ?? inlineBody ?? '';
      const truthy = Boolean(lookup(values, name));
      return (kind === '#') === truthy ? body : '';
    });
  } while (out !== previous);
  return out;
}

export function renderTemplate(template: string, values: TemplateValues): string {
  const withSections = renderSections(template, values);
  return withSections.replace(/\{\{(\w+)(:sh)?\}\}/g, (_m, name: string, quoted?: string) => {
    const value = lookup(values, name);
    if (value === undefined || value === false) throw new TemplateError(`{{${name}}} has no value here; wrap it in {{#${name}}}…{{/${name}}}`);
    const text = String(value);
    if (CONTROL.test(text)) throw new TemplateError(`value of {{${name}}} contains a control character (${JSON.stringify(text)})`);
    if (quoted) return shellQuote(text);
    if (!SAFE_DIRECTIVE_VALUE.test(text) || text.includes('..')) {
      throw new TemplateError(`value of {{${name}}} is not safe unquoted (${JSON.stringify(text)}); use {{${name}:sh}} in a shell line`);
    }
    return text;
  });
}
