import { expect } from 'chai';
import { describeApp } from '../../../src/apps/describe.ts';
import { caesarApp, optionSpec } from './helpers.ts';

const app = caesarApp();
const body = describeApp(app);

describe('apps/describeApp', () => {
  it('describes all 156 options, in table order, as plain JSON', () => {
    expect(Object.keys(body)).to.deep.equal(app.options.map((o) => o.name));
    expect(JSON.parse(JSON.stringify(body))).to.deep.equal(body);
  });

  it('describes a flag as type "none" with default false', () => {
    expect(body['save-fits']).to.deep.equal({
      mandatory: false, type: 'none', description: optionSpec(app, 'save-fits').description,
      advanced: 0, category: 'OUTPUT', subcategory: '', enum: false, default: false,
    });
  });

  it('describes an int with numeric default, min and max', () => {
    expect(body['npixmin']).to.deep.equal({
      mandatory: false, type: 'int', description: optionSpec(app, 'npixmin').description,
      advanced: 0, category: 'COMPACT-SOURCES', subcategory: '', enum: false, default: 5, min: 0, max: 10000,
    });
  });

  it('describes a float, converting the script default "1.e-2" to a number', () => {
    expect(body['fit-fcntol']).to.deep.equal({
      mandatory: false, type: 'float', description: optionSpec(app, 'fit-fcntol').description,
      advanced: 1, category: 'COMPACT-SOURCES', subcategory: 'FITTING', enum: false, default: 0.01, min: 0, max: 100,
    });
  });

  it('describes an enum as type "str" with its labels (not codes) as allowed_values', () => {
    expect(body['bkgestimator']).to.deep.equal({
      mandatory: false, type: 'str', description: optionSpec(app, 'bkgestimator').description,
      advanced: 0, category: 'IMGBKG', subcategory: '', enum: true, default: 'Median',
      allowed_values: ['Mean', 'Median', 'BiWeight', 'ClippedMedian'],
    });
    expect(body['fit-minimizer']).to.deep.include({ allowed_values: ['Minuit', 'Minuit2'], default: 'Minuit2', subcategory: 'FITTING' });
  });
});
