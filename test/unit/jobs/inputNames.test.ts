// Where an upload is staged on a cluster and how a job's config names it (src/jobs/inputNames.ts).
import { expect } from 'chai';
import { configInputFile, inputNameFor, stagedCopyToRemove, stagedInputPath, usableStagedCopy } from '../../../src/jobs/inputNames.ts';

const file = { id: 'a'.repeat(32), filename_orig: 'M31 field (v2).fits' };

describe('jobs: input names and staged copies', () => {
  it('names the input after the upload, reduced to safe characters, and stages it under that name', () => {
    expect(inputNameFor(file)).to.deep.equal({ inputName: 'M31_field_v2_.fits', base: 'M31_field_v2_' });
    expect(inputNameFor({ id: file.id, filename_orig: '..fits' })).to.deep.equal({ inputName: 'input_aaaaaaaa.fits', base: 'input_aaaaaaaa' });
    expect(stagedInputPath('/scratch/gw', file)).to.equal(`/scratch/gw/inputs/${file.id}/M31_field_v2_.fits`);
  });

  it('points the config at the staged copy, relative to the job directory, whether or not it is staged yet', () => {
    const relative = { inputFile: `../../inputs/${file.id}/M31_field_v2_.fits`, linked: false };
    expect(configInputFile(file, undefined)).to.deep.equal(relative);
    expect(configInputFile(file, stagedInputPath('/scratch/gw', file))).to.deep.equal(relative);
  });

  it("links a copy staged under the older layout (inputs/<uuid>.fits), which lacks the upload's name", () => {
    expect(configInputFile(file, `/scratch/gw/inputs/${file.id}.fits`)).to.deep.equal({ inputFile: 'M31_field_v2_.fits', linked: true });
  });

  it('uses a recorded copy only under the current remote root', () => {
    const copy = stagedInputPath('/scratch/gw', file);
    expect(usableStagedCopy(copy, '/scratch/gw')).to.equal(copy);
    expect(usableStagedCopy(copy, '/scratch/gw/')).to.equal(copy);
    expect(usableStagedCopy(copy, '/scratch/g')).to.equal(undefined);
    expect(usableStagedCopy(copy, '/other')).to.equal(undefined);
    expect(usableStagedCopy(undefined, '/scratch/gw')).to.equal(undefined);
  });

  it("removes a staged copy's directory, or the older layout's file", () => {
    expect(stagedCopyToRemove(stagedInputPath('/scratch/gw', file), file.id)).to.equal(`/scratch/gw/inputs/${file.id}`);
    expect(stagedCopyToRemove(`/scratch/gw/inputs/${file.id}.fits`, file.id)).to.equal(`/scratch/gw/inputs/${file.id}.fits`);
  });
});
