import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { renderTemplate, TemplateError } from '../../../src/sbatch/renderTemplate.ts';
import { prepareAndSubmitScript, prepareJobDirScript, submitPreparedScript } from '../../../src/scheduler/slurm/commands.ts';
import { shellQuote } from '../../../src/remote/quote.ts';
import { execFileSync } from 'node:child_process';

const caesarTemplate = readFileSync(new URL('../../../templates/caesar.sbatch', import.meta.url), 'utf8');
const HOSTILE = ["'; rm -rf ~ #", '$(id)', '`id`', 'x\n#SBATCH --uid=0', '../../../etc', 'a b'];

function values(overrides: Record<string, string | number | boolean | undefined> = {}) {
  return {
    gatewayJobId: '0b7c8a2e-0000-4000-8000-000000000000', partition: 'debug', timeLimitMinutes: 10, nodes: 1,
    tasksPerNode: 4, cpusPerTask: 2, memoryMB: 4096, account: 'hpc', qos: undefined, envfile: undefined, mpi: true,
    executable: '/opt/caesar/bin/FindSourceMPI', configFile: 'config_x.cfg', logFile: 'output_x.log', ...overrides,
  };
}

describe('sbatch/renderTemplate with templates/caesar.sbatch', () => {
  it('renders the MPI resources and the srun launch', () => {
    const script = renderTemplate(caesarTemplate, values());
    expect(script).to.contain('#SBATCH --partition=debug\n');
    expect(script).to.contain('#SBATCH --ntasks-per-node=4\n');
    expect(script).to.contain('#SBATCH --cpus-per-task=2\n');
    expect(script).to.contain('#SBATCH --mem=4096M\n');
    expect(script).to.contain('#SBATCH --account=hpc\n');
    expect(script).not.to.contain('--qos');
    expect(renderTemplate(caesarTemplate, values({ qos: 'normal' }))).to.contain('#SBATCH --qos=normal\n');
    expect(script).to.contain('export OMP_NUM_THREADS=2\n');
    expect(script).to.match(/^srun --mpi=pmix --cpus-per-task=2 \/opt\/caesar\/bin\/FindSourceMPI --config=config_x.cfg > output_x.log 2>&1$/m);
    expect(script).not.to.contain('{{');
  });

  it('drops mpirun/srun and passes --no-mpi when MPI is off, and honours no-logredir', () => {
    const script = renderTemplate(caesarTemplate, values({ mpi: false, logFile: undefined, account: undefined }));
    expect(script).to.match(/^\/opt\/caesar\/bin\/FindSourceMPI --config=config_x.cfg --no-mpi$/m);
    expect(script).not.to.contain('srun');
    expect(script).not.to.contain('--account');
  });

  for (const hostile of HOSTILE) {
    it(`refuses ${JSON.stringify(hostile)} in every #SBATCH value`, () => {
      for (const field of ['partition', 'account', 'qos']) {
        expect(() => renderTemplate(caesarTemplate, values({ [field]: hostile })), field).to.throw(TemplateError);
      }
    });

    it(`keeps ${JSON.stringify(hostile)} out of every shell word: quoted as one inert word, or refused`, () => {
      const render = () => renderTemplate(caesarTemplate, values({ configFile: hostile, logFile: hostile, envfile: hostile }));
      if (/\n/.test(hostile)) {
        expect(render).to.throw(/control character/);
        return;
      }
      const script = render();
      const launch = script.split('\n').find((l) => l.startsWith('srun'))!;
      // The shell parses the launch line back into exactly the words we meant.
      const words = execFileSync('/bin/sh', ['-c', `for w in ${launch.replace(/^srun .*FindSourceMPI /, '').replace(/ > /, ' ').replace(/ 2>&1$/, '')}; do printf '%s\\0' "$w"; done`]).toString().split('\0').slice(0, -1);
      expect(words).to.deep.equal([`--config=${hostile}`, hostile]);
      expect(script).to.contain(`source ${shellQuote(hostile)}\n`);
    });
  }

  it('fails loudly when the template names a value the gateway does not provide', () => {
    expect(() => renderTemplate('#SBATCH --qos={{qos}}\n', {})).to.throw(/does not provide/);
  });
});

describe('slurm/prepareAndSubmitScript', () => {
  it('quotes file contents and names, and puts the tag on the sbatch command line', () => {
    const script = prepareAndSubmitScript({
      jobDir: '/home/u/jobs/abc', files: { 'job.sbatch': "echo '$(id)'\n" }, links: { 'in.fits': '/home/u/inputs/f.fits' },
      scriptName: 'job.sbatch', jobName: 'cg-abc',
    });
    expect(script).to.contain("printf %s 'echo '\\''$(id)'\\''\n' > job.sbatch");
    expect(script).to.match(/sbatch --parsable --job-name=cg-abc --chdir=\/home\/u\/jobs\/abc job.sbatch$/);
  });

  it('splits into the directory\'s writing, with no sbatch, and the sbatch alone, which together make the one-command form', () => {
    const sub = {
      jobDir: "/home/u/jobs/a b'c", files: { 'job.sbatch': 'true\n' }, links: { 'in.fits': '/home/u/inputs/f.fits' },
      scriptName: 'job.sbatch', jobName: 'cg-abc',
    };
    const prepare = prepareJobDirScript(sub);
    const submit = submitPreparedScript(sub);
    expect(prepare).not.to.contain('sbatch --parsable');
    expect(prepare).to.contain("ln -sfn /home/u/inputs/f.fits in.fits && printf %s 'true\n' > job.sbatch");
    expect(submit).to.equal("cd '/home/u/jobs/a b'\\''c' && sbatch --parsable --job-name=cg-abc '--chdir=/home/u/jobs/a b'\\''c' job.sbatch");
    expect(prepareAndSubmitScript(sub)).to.equal(`${prepare} && ${submit.slice(submit.indexOf('sbatch'))}`);
  });

  it('enters a directory made ahead, and makes it only when it is missing', () => {
    const script = prepareAndSubmitScript({ jobDir: '/home/u/jobs/abc', files: {}, links: {}, scriptName: 'job.sbatch', jobName: 'cg-abc' });
    expect(script.startsWith('{ cd /home/u/jobs/abc 2>/dev/null || { mkdir -p /home/u/jobs/abc && cd /home/u/jobs/abc; }; } && ')).to.equal(true);
  });
});
