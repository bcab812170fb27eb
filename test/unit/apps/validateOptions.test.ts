import { expect } from 'chai';
import { suggestOption, validateAppOptions } from '../../../src/apps/validateOptions.ts';
import type { OptionError, OptionValue } from '../../../src/apps/types.ts';
import { caesarApp } from './helpers.ts';

const specs = caesarApp().options;

function errorsOf(inputs: Record<string, unknown>): OptionError[] {
  const result = validateAppOptions(inputs, specs, 'caesar');
  if (result.ok) throw new Error(`expected rejection of ${JSON.stringify(inputs)}`);
  return result.errors;
}

function messageOf(option: string, value: unknown): string {
  const errors = errorsOf({ [option]: value });
  expect(errors, `${option}=${String(value)}`).to.have.length(1);
  expect(errors[0]?.option).to.equal(option);
  return errors[0]?.message ?? '';
}

function valuesOf(inputs: Record<string, unknown>): Map<string, OptionValue> {
  const result = validateAppOptions(inputs, specs, 'caesar');
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('; '));
  return result.values;
}

describe('apps/validateAppOptions: rejections', () => {
  it('names an unknown option and suggests the closest one', () => {
    expect(messageOf('seedthresh', 5)).to.equal("unknown option 'seedthresh' for app caesar (did you mean 'seedthr'?)");
    expect(messageOf('SeedThr', 5)).to.include("did you mean 'seedthr'?");
  });

  it('makes no suggestion when nothing is close', () => {
    expect(messageOf('frobnicate-everything', 1)).to.equal("unknown option 'frobnicate-everything' for app caesar");
    expect(suggestOption('zz', ['seedthr'])).to.equal(undefined);
  });

  it('rejects values of the wrong type for an int', () => {
    for (const bad of ['abc', true, null, {}, [5], NaN, Infinity, '', '0x10', '1e3']) {
      expect(messageOf('npixmin', bad)).to.match(/^option 'npixmin': expected an integer between 0 and 10000, got /);
    }
    expect(messageOf('npixmin', 'abc')).to.equal(`option 'npixmin': expected an integer between 0 and 10000, got "abc"`);
  });

  it('rejects a non-integer for an int, as number and as string', () => {
    expect(messageOf('npixmin', 5.5)).to.equal("option 'npixmin': expected an integer between 0 and 10000, got 5.5");
    expect(messageOf('npixmin', '5.5')).to.include('got "5.5"');
    expect(messageOf('fit-maxniters', '99999999999999999999')).to.include('expected an integer');
  });

  it('rejects values of the wrong type for a float', () => {
    for (const bad of ['five', false, null, NaN, -Infinity, 'Infinity', 'NaN', '0x10', '1,5', '']) {
      expect(messageOf('seedthr', bad)).to.match(/^option 'seedthr': expected a number between 0 and 10000, got /);
    }
  });

  it('rejects values below the minimum and above the maximum (inclusive bounds)', () => {
    expect(messageOf('seedthr', 20000)).to.equal('option \'seedthr\': expected a number between 0 and 10000, got 20000');
    expect(messageOf('seedthr', -0.1)).to.include('got -0.1');
    expect(messageOf('npixmin', -1)).to.include('between 0 and 10000');
    expect(messageOf('dilatekernsize', '1002')).to.equal('option \'dilatekernsize\': expected an integer between 1 and 1001, got "1002"');
    expect(messageOf('tilestep', 0.0005)).to.include('between 0.001 and 1');
  });

  it('rejects a value that is not in the enum, and a non-string enum value', () => {
    expect(messageOf('bkgestimator', 'Foo')).to.equal(`option 'bkgestimator': "Foo" is not one of Mean, Median, BiWeight, ClippedMedian`);
    expect(messageOf('bkgestimator', 2)).to.equal("option 'bkgestimator': expected one of Mean, Median, BiWeight, ClippedMedian, got 2");
    expect(messageOf('bkgestimator', 'Medians')).to.include('is not one of');
  });

  it('rejects a flag that is not a JSON boolean', () => {
    expect(messageOf('save-fits', 'yes')).to.equal(`option 'save-fits' is a flag: use true or false, got "yes"`);
    for (const bad of [1, 0, 'true', null, {}]) expect(messageOf('save-fits', bad)).to.include('is a flag');
  });

  it('rejects strings with whitespace or control characters, whatever the kind', () => {
    for (const [option, bad] of [['seedthr', ' 5'], ['npixmin', '5\n'], ['bkgestimator', 'Mean\t'], ['loglevel', 'INFO\u0000'], ['save-fits', 'true ']]) {
      expect(messageOf(option ?? '', bad)).to.match(new RegExp(`^option '${option}': value must not contain whitespace or control characters`));
    }
  });

  it('collects every error, in input order, not just the first', () => {
    const errors = errorsOf({ seedthresh: 5, seedthr: 20000, mergethr: 2, 'save-fits': 'yes', bkgestimator: 'Foo', npixmin: 5.5 });
    expect(errors.map((e) => e.option)).to.deep.equal(['seedthresh', 'seedthr', 'save-fits', 'bkgestimator', 'npixmin']);
  });

  it('omits the app from the unknown-option message when none is given', () => {
    const result = validateAppOptions({ nope: 1 }, specs);
    expect(result.ok ? [] : result.errors.map((e) => e.message)).to.deep.equal(["unknown option 'nope'"]);
  });
});

describe('apps/validateAppOptions: accepted values', () => {
  it('accepts an empty set of options', () => {
    expect(valuesOf({}).size).to.equal(0);
  });

  it('accepts numbers and numeric strings, normalising them to numbers', () => {
    const values = valuesOf({ npixmin: '7', xmin: '-3', ymax: 12, seedthr: '2.5', mergethr: 1, 'fit-fcntol': '1.e-3', bkgbox: '1e2', bmin: 4.0 });
    expect(Object.fromEntries(values)).to.deep.equal({ npixmin: 7, xmin: -3, ymax: 12, seedthr: 2.5, mergethr: 1, 'fit-fcntol': 0.001, bkgbox: 100, bmin: 4 });
  });

  it('accepts the inclusive bounds', () => {
    expect(Object.fromEntries(valuesOf({ seedthr: 0, mergethr: 10000, dilatekernsize: 1, tilestep: 1 })))
      .to.deep.equal({ seedthr: 0, mergethr: 10000, dilatekernsize: 1, tilestep: 1 });
  });

  it('accepts enum labels exactly or case-insensitively, returning the canonical label', () => {
    const values = valuesOf({ bkgestimator: 'mean', extsfinder: 'saliency-thresh', loglevel: 'debug', 'fit-minimizer': 'Minuit' });
    expect(Object.fromEntries(values)).to.deep.equal({ bkgestimator: 'Mean', extsfinder: 'SALIENCY-THRESH', loglevel: 'DEBUG', 'fit-minimizer': 'Minuit' });
  });

  it('keeps flags as booleans, false included', () => {
    expect(Object.fromEntries(valuesOf({ 'save-fits': true, globalbkg: false }))).to.deep.equal({ 'save-fits': true, globalbkg: false });
  });
});
