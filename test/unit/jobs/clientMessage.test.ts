import { expect } from 'chai';
import { withoutPaths } from '../../../src/jobs/clientMessage.ts';

describe('jobs/withoutPaths', () => {
  const cases: Array<[string, string]> = [
    ["mkdir: cannot create directory '/home/hpc/caesar-gateway/jobs/x': Permission denied", "mkdir: cannot create directory '<path>': Permission denied"],
    ['tar of /scratch/u/jobs/abc failed (2): tar: ./out.root: Cannot stat', 'tar of <path> failed (2): tar: ./out.root: Cannot stat'],
    ['sbatch: error: Batch job submission failed: Invalid partition name specified', 'sbatch: error: Batch job submission failed: Invalid partition name specified'],
    ['larger than the limit of 2000 bytes (outputs.maxBytes)', 'larger than the limit of 2000 bytes (outputs.maxBytes)'],
    ['local: cannot connect to 127.0.0.1:2222: connect ECONNREFUSED', 'local: cannot connect to 127.0.0.1:2222: connect ECONNREFUSED'],
  ];
  for (const [input, output] of cases) it(JSON.stringify(input), () => expect(withoutPaths(input)).to.equal(output));
});
