import { expect } from 'chai';
import { parseConfigTable, parseOptionTable } from '../../../src/apps/optionTable.ts';
import { caesarApp, optionSpec } from './helpers.ts';

const OPTION_HEADER = 'option\tkind\tdefault\tmin\tmax\tenum\tcategory\tadvanced\tconfig_keys\tconfig_value\tsubcategory\tdescription';
const CONFIG_HEADER = 'section\tkey\tvalue\tdefault_written';
const GOOD_ROW = 'seedthr\tfloat\t5\t0\t10000\t\tCOMPACT\t0\tseedThr\tvalue\t\tSeed threshold.';

function optionTable(...rows: string[]): string {
  return [OPTION_HEADER, ...rows].join('\n') + '\n';
}

describe('apps/optionTable: the caesar tables', () => {
  const app = caesarApp();

  it('has the 156 options and the 224 config lines, with unique names', () => {
    expect(app.options).to.have.length(156);
    expect(app.configLines).to.have.length(224);
    expect(new Set(app.options.map((o) => o.name)).size).to.equal(156);
    expect(app.options[0]?.name).to.equal('save-fits');
    expect(app.configLines[0]?.key).to.equal('inputFile');
  });

  it('gives every option a one-sentence description of its own', () => {
    for (const spec of app.options) {
      expect(spec.description, spec.name).to.match(/^[A-Z].{15,150}\.$/);
    }
    expect(new Set(app.options.map((o) => o.description)).size).to.equal(156);
  });

  it('parses kinds, defaults, ranges and enum codes', () => {
    expect(optionSpec(app, 'seedthr')).to.deep.include({ kind: 'float', default: '5', min: 0, max: 10000, advanced: false });
    expect(optionSpec(app, 'fit-fcntol')).to.deep.include({ default: '1.e-2', subcategory: 'FITTING', advanced: true });
    expect(optionSpec(app, 'maxnpix')).to.deep.include({ kind: 'int', min: 0, max: 10000000 });
    expect(optionSpec(app, 'regionwcs').enumValues).to.deep.equal([
      { label: 'J2000', code: '0' }, { label: 'B1950', code: '1' }, { label: 'GALACTIC', code: '2' }]);
    expect(optionSpec(app, 'loglevel').enumValues?.map((v) => v.code)).to.deep.equal(['INFO', 'DEBUG', 'WARN', 'ERROR', 'OFF']);
    expect(optionSpec(app, 'save-fits')).to.not.have.property('default');
  });

  it('models the special config rules explicitly', () => {
    expect(optionSpec(app, 'bmin').configRule.type).to.equal('bmin');
    expect(optionSpec(app, 'bmin').configKeys).to.deep.equal(['beamFWHM', 'beamBmin']);
    expect(optionSpec(app, 'tilestep').configRule).to.deep.include({ type: 'tilestep', overlapKey: 'useTileOverlap' });
    expect(optionSpec(app, 'no-mpi').configRule.type).to.equal('not_in_config');
    expect(optionSpec(app, 'globalbkg').configRule.type).to.equal('false_if_set');
    expect(optionSpec(app, 'save-fits').configRule.type).to.equal('true_if_set');
    expect(app.configLines.find((l) => l.key === 'outputFile')?.source).to.deep.equal({ type: 'derived', pattern: 'out-<base>.root' });
  });
});

describe('apps/optionTable: malformed tables fail loudly', () => {
  function failsAt(tsv: string, line: number, fragment: string): void {
    expect(() => parseOptionTable(tsv)).to.throw(new RegExp(`^line ${line}: .*${fragment}`));
  }

  it('accepts a well-formed row (control case)', () => {
    expect(parseOptionTable(optionTable(GOOD_ROW))).to.have.length(1);
  });
  it('rejects a wrong header', () => {
    failsAt(OPTION_HEADER.replace('kind', 'type') + '\n' + GOOD_ROW, 1, 'header');
  });
  it('rejects a row with a missing column, naming its line', () => {
    failsAt(optionTable(GOOD_ROW, GOOD_ROW.replace('seedthr', 'other').replace('\tSeed threshold.', '')), 3, 'columns');
  });
  it('rejects an unknown kind', () => {
    failsAt(optionTable(GOOD_ROW.replace('float', 'double')), 2, 'kind');
  });
  it('rejects a flag with a default', () => {
    failsAt(optionTable('save-fits\tflag\t1\t\t\t\tOUTPUT\t0\tsaveToFITSFile\ttrue_if_set\t\tSave.'), 2, 'flag');
  });
  it('rejects an int default that is not an integer, and a default out of range', () => {
    failsAt(optionTable(GOOD_ROW.replace('float\t5', 'int\t5.5')), 2, 'not a valid int');
    failsAt(optionTable(GOOD_ROW.replace('float\t5', 'float\t20000')), 2, 'min, max');
  });
  it('rejects an unknown config rule and a missing description', () => {
    failsAt(optionTable(GOOD_ROW.replace('\tvalue\t', '\tsometimes\t')), 2, 'config_value');
    failsAt(optionTable(GOOD_ROW.replace('Seed threshold.', ' ')), 2, 'description');
  });
  it('rejects an enum that mixes coded and bare labels, and a default that is not a label', () => {
    const row = 'm\tenum\tA\t\t\tA=1,B\tX\t0\tk\tvalue\t\tPick.';
    failsAt(optionTable(row), 2, 'mixes');
    failsAt(optionTable(row.replace('A=1,B', 'C=1,B=2')), 2, 'not an enum label');
  });
  it('rejects duplicate options', () => {
    failsAt(optionTable(GOOD_ROW, GOOD_ROW), 3, 'duplicate');
  });
  it('rejects config lines with unknown placeholders, spaces or duplicate keys', () => {
    const config = (...rows: string[]): string => [CONFIG_HEADER, ...rows].join('\n');
    expect(() => parseConfigTable(config('S\tk\t${env:HOME}\tx'))).to.throw(/^line 2: .*placeholder/);
    expect(() => parseConfigTable(config('S\tk\ta b\tx'))).to.throw(/^line 2: .*whitespace/);
    expect(() => parseConfigTable(config('S\tk\t1\t1', 'S\tk\t2\t2'))).to.throw(/^line 3: .*duplicate/);
    expect(parseConfigTable(config('S\tk\t${option:seedthr}\t5'))[0]?.source).to.deep.equal({ type: 'option', option: 'seedthr' });
  });
});
