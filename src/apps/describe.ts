// Builds the `/app/<name>/describe` body in the shape caesar-rest clients already read
// (see caesar-rest's Option.to_dict): flags are type "none", enums are type "str".

import type { AppDescriptor, OptionSpec } from './types.ts';

interface DescribedBase {
  mandatory: false;
  description: string;
  advanced: 0 | 1;
  category: string;
  /** caesar-rest sends "" when an option has no subcategory. */
  subcategory: string;
}

export type DescribedOption =
  | (DescribedBase & { type: 'none'; enum: false; default: false })
  | (DescribedBase & { type: 'int' | 'float'; enum: false; default: number; min: number; max: number })
  | (DescribedBase & { type: 'str'; enum: true; default: string; allowed_values: string[] });

export type AppDescription = Record<string, DescribedOption>;

function describeOption(spec: OptionSpec): DescribedOption {
  const base: DescribedBase = {
    mandatory: false,
    description: spec.description,
    advanced: spec.advanced ? 1 : 0,
    category: spec.category,
    subcategory: spec.subcategory ?? '',
  };
  switch (spec.kind) {
    case 'flag':
      // A flag that is not sent is off, so its default is false.
      return { ...base, type: 'none', enum: false, default: false };
    case 'enum':
      return {
        ...base, type: 'str', enum: true, default: spec.default ?? '',
        allowed_values: (spec.enumValues ?? []).map((v) => v.label),
      };
    case 'int':
    case 'float':
      // Numbers go out as JSON numbers ("1.e-2" becomes 0.01), as caesar-rest sent them.
      return {
        ...base, type: spec.kind, enum: false, default: Number(spec.default),
        min: spec.min ?? Number.NEGATIVE_INFINITY, max: spec.max ?? Number.POSITIVE_INFINITY,
      };
  }
}

/** Every user-settable option of the app, keyed by name, in table order. */
export function describeApp(app: AppDescriptor): AppDescription {
  const body: AppDescription = {};
  for (const spec of app.options) body[spec.name] = describeOption(spec);
  return body;
}
