import { expect } from 'chai';
import { renderAppConfig } from '../../../src/apps/renderConfig.ts';
import type { OptionValue } from '../../../src/apps/types.ts';
import { caesarApp, parseCaesarConfig } from './helpers.ts';

const app = caesarApp();
const input = { inputFile: '/data/jobs/42/G005.5+0.0_mosaic.fits', base: 'G005.5+0.0_mosaic' };

function render(values: Record<string, OptionValue> = {}): Map<string, string> {
  return new Map(parseCaesarConfig(renderAppConfig(app, new Map(Object.entries(values)), input)));
}

describe('apps/renderAppConfig: defaults', () => {
  it('writes every config line in table order, as CAESAR reads it, ending with a newline', () => {
    const text = renderAppConfig(app, new Map(), input);
    expect(text.endsWith('\n')).to.equal(true);
    expect(parseCaesarConfig(text).map(([key]) => key)).to.deep.equal(app.configLines.map((l) => l.key));
  });

  it('with no options, writes exactly default_written for all 224 keys (alwaysSet flags on)', () => {
    const written = render();
    expect(written.size).to.equal(224);
    const alwaysOn = new Set(['saveDS9Region', 'saveCatalogFileInJson']);
    for (const line of app.configLines) {
      const expected = alwaysOn.has(line.key)
        ? 'true'
        : line.defaultWritten.replace('<inputfile>', input.inputFile).replaceAll('<base>', input.base);
      expect(written.get(line.key), line.key).to.equal(expected);
    }
    expect(written.get('fitFcnTolerance')).to.equal('1.e-2');
    expect(written.get('outputFile')).to.equal('out-G005.5+0.0_mosaic.root');
  });

  it('the alwaysSet names really differ from the table default (the exception is not vacuous)', () => {
    const defaults = new Map(app.configLines.map((l) => [l.key, l.defaultWritten]));
    expect([defaults.get('saveDS9Region'), defaults.get('saveCatalogFileInJson')]).to.deep.equal(['false', 'false']);
  });
});

describe('apps/renderAppConfig: option overrides', () => {
  it('writes numbers: floats as given, ints without a decimal point', () => {
    const written = render({ seedthr: 3.5, mergethr: 2, npixmin: 10, 'fit-fcntol': 0.001 });
    expect([written.get('seedThr'), written.get('mergeThr'), written.get('minNPix'), written.get('fitFcnTolerance')])
      .to.deep.equal(['3.5', '2', '10', '0.001']);
  });

  it('maps enum labels to their codes, and passes label-only enums through', () => {
    const written = render({ bkgestimator: 'Mean', 'res-removedsourcetype': 'ALL', regionwcs: 'GALACTIC', loglevel: 'DEBUG', 'fit-minimizeralgo': 'migrad' });
    expect(written.get('bkgEstimator')).to.equal('1');
    expect(written.get('removedSourceType')).to.equal('-1');
    expect(written.get('ds9WCSType')).to.equal('2');
    expect(written.get('logLevel')).to.equal('DEBUG');
    expect(written.get('fitMinimizerAlgo')).to.equal('migrad');
  });

  it('true_if_set flags: true when set, false when false or absent', () => {
    expect(render({ 'save-fits': true }).get('saveToFITSFile')).to.equal('true');
    expect(render({ 'save-fits': false }).get('saveToFITSFile')).to.equal('false');
    expect(render().get('saveToFITSFile')).to.equal('false');
  });

  it('false_if_set flags: false when set, true when false or absent', () => {
    expect(render({ globalbkg: true }).get('useLocalBkg')).to.equal('false');
    expect(render({ globalbkg: false }).get('useLocalBkg')).to.equal('true');
    expect(render({ 'no-mergesources': true }).get('mergeSources')).to.equal('false');
  });

  it('bmin feeds both beamFWHM and beamBmin, leaving beamBmaj alone', () => {
    const written = render({ bmin: 7.5 });
    expect([written.get('beamFWHM'), written.get('beamBmin'), written.get('beamBmaj')]).to.deep.equal(['7.5', '7.5', '10']);
    expect(render({ bmaj: 20 }).get('beamFWHM')).to.equal('5');
  });

  it('tilestep turns tile overlap on whenever given, even at its default value', () => {
    const half = render({ tilestep: 0.5 });
    expect([half.get('useTileOverlap'), half.get('tileStepSizeX'), half.get('tileStepSizeY')]).to.deep.equal(['true', '0.5', '0.5']);
    const one = render({ tilestep: 1 });
    expect([one.get('useTileOverlap'), one.get('tileStepSizeX')]).to.deep.equal(['true', '1']);
  });

  it('multi-key options feed every key; not_in_config options leave the config unchanged', () => {
    const written = render({ bkgbox: 30, tilesize: 256 });
    expect([written.get('boxSizeX'), written.get('boxSizeY'), written.get('tileSizeX'), written.get('tileSizeY')]).to.deep.equal(['30', '30', '256', '256']);
    expect(renderAppConfig(app, new Map<string, OptionValue>([['no-mpi', true], ['nproc', 4]]), input))
      .to.equal(renderAppConfig(app, new Map(), input));
  });
});

describe('apps/renderAppConfig: hostile values are refused', () => {
  const cases: [string, Map<string, OptionValue>, { inputFile: string; base: string }, RegExp][] = [
    ['input path with a space', new Map<string, OptionValue>(), { inputFile: '/data/my file.fits', base: 'x' }, /whitespace/],
    ['input path with a newline', new Map<string, OptionValue>(), { inputFile: '/data/x.fits\nseedThr = 0', base: 'x' }, /whitespace/],
    ['base with a pipe', new Map<string, OptionValue>(), { inputFile: '/data/x.fits', base: 'x|y' }, /whitespace, "\|"/],
    ['empty base', new Map<string, OptionValue>(), { inputFile: '/data/x.fits', base: '' }, /empty/],
    ['string where a number belongs', new Map<string, OptionValue>([['seedthr', '5 mergeThr']]), input, /expected a number/],
    ['non-integer int', new Map<string, OptionValue>([['npixmin', 2.5]]), input, /not an integer/],
    ['label-only enum value that is not a label', new Map<string, OptionValue>([['loglevel', 'INFO\nseedThr = 0']]), input, /not an enum label/],
    ['flag that is not a boolean', new Map<string, OptionValue>([['save-fits', 'true']]), input, /is a flag/],
    ['unknown option', new Map<string, OptionValue>([['seedthresh', 5]]), input, /unknown option/],
  ];
  for (const [name, values, files, reason] of cases) {
    it(`throws on ${name}`, () => {
      expect(() => renderAppConfig(app, values, files)).to.throw(reason);
    });
  }
});
