// Data model of the app registry. An app is a folder (app.json + options.tsv + config.tsv);
// these types are what the tables parse into, so adding an app never needs new code.

export type OptionKind = 'flag' | 'int' | 'float' | 'enum';

/** A value after validation: flags are booleans, numbers are numbers, enums are canonical labels. */
export type OptionValue = boolean | number | string;

export interface OptionError {
  option: string;
  message: string;
}

export interface EnumValue {
  label: string;
  /** What the config file receives; equals `label` for enums that pass labels through (loglevel). */
  code: string;
}

/**
 * How an option reaches the config file. The special cases are modelled explicitly rather than
 * hidden in code keyed on option names, so the renderer can stay generic.
 */
export type ConfigRule =
  /** Every config key gets the option value (enum labels mapped to codes). */
  | { type: 'value' }
  /** Flag: keys get `true` when the flag is set, `false` when absent. */
  | { type: 'true_if_set' }
  /** Flag: keys get `false` when the flag is set, `true` when absent. */
  | { type: 'false_if_set' }
  /** The option only changes the run script (no config line); `note` says how. */
  | { type: 'not_in_config'; note: string }
  /** bmin: one value feeds several keys (beamFWHM and beamBmin), not the obvious one (bmaj). */
  | { type: 'bmin'; note: string }
  /**
   * tilestep: `overlapKey` (useTileOverlap) is `true` whenever the option is given, whatever its
   * value, `false` otherwise; the remaining keys get the value (or the default).
   */
  | { type: 'tilestep'; note: string; overlapKey: string };

export interface OptionSpec {
  name: string;
  kind: OptionKind;
  /** As written in the submitter script ("1.0", "1.e-2"); for enums, the default label. */
  default?: string;
  min?: number;
  max?: number;
  enumValues?: EnumValue[];
  category: string;
  subcategory?: string;
  advanced: boolean;
  configKeys: string[];
  configRule: ConfigRule;
  description: string;
}

/** Where a config line's value comes from. */
export type ConfigSource =
  | { type: 'literal'; text: string }
  /** `${option:NAME}`: follows NAME's rule (NAME may be an alwaysSet name outside the option table). */
  | { type: 'option'; option: string }
  /** `${derived:inputfile}` or `${derived:<pattern>}` with `<base>` substituted. */
  | { type: 'derived'; pattern: string };

export interface ConfigLine {
  section: string;
  key: string;
  source: ConfigSource;
  /** What the original submitter writes when no option is given (`<inputfile>`, `<base>` unsubstituted). */
  defaultWritten: string;
}

/** The parsed app.json, as stored on disk. */
export interface AppManifest {
  name: string;
  aliases: string[];
  description: string;
  template: string;
  optionsFile: string;
  configFile: string;
  /** Flags the gateway always passes (caesar-rest added them to every run); not user options. */
  alwaysSet: string[];
  /** Output files by role; `{base}` is the input's basename minus its last extension. */
  outputs: Record<string, string>;
}

export interface AppDescriptor extends AppManifest {
  options: OptionSpec[];
  configLines: ConfigLine[];
  /** Absolute directory holding app.json and the tables. */
  dir: string;
}
