import { expect } from 'chai';
import type { ClusterConfig } from '../../../src/config.ts';
import type { OptionError, OptionValue } from '../../../src/apps/types.ts';
import { parseWallTime, resolveResources } from '../../../src/jobs/runOptions.ts';

const cluster = {
  name: 'c1', partitions: [{ name: 'debug', maxTimeMinutes: 10 }, { name: 'long' }], defaultPartition: 'debug', account: 'hpc',
  defaults: { timeMinutes: 5, memoryMBPerCpu: 512, nodes: 1 },
  limits: { maxNodes: 2, maxTasks: 16, maxCpusPerTask: 8, maxMemoryMB: 8192, maxTimeMinutes: 60 },
  allowedEnvfiles: ['/opt/site/caesar.env'],
} as unknown as ClusterConfig;

function resolve(inputs: Record<string, unknown>, app: Array<[string, OptionValue]> = []) {
  const errors: OptionError[] = [];
  const resources = resolveResources(inputs, new Map(app), cluster, errors);
  return { resources, errors };
}

describe('jobs/resolveResources', () => {
  it('applies the cluster defaults', () => {
    const { resources, errors } = resolve({});
    expect(errors).to.deep.equal([]);
    expect(resources).to.deep.include({ partition: 'debug', timeLimitMinutes: 5, nodes: 1, tasksPerNode: 1, cpusPerTask: 1, memoryMB: 512, account: 'hpc', mpi: true });
  });

  it('maps nproc to ranks per node and nthreads to cpus per task', () => {
    const { resources } = resolve({}, [['nproc', 4], ['nthreads', 2]]);
    expect(resources).to.deep.include({ tasksPerNode: 4, cpusPerTask: 2, memoryMB: 4 * 2 * 512 });
  });

  it('runs one task without MPI', () => {
    expect(resolve({}, [['nproc', 4], ['no-mpi', true]]).resources?.tasksPerNode).to.equal(1);
  });

  it('maps the seed batch options', () => {
    const { resources, errors } = resolve({ queue: 'long', jobwalltime: '00:30:00', jobnodes: 2, jobmemory: 2, jobusergroup: 'astro' });
    expect(errors).to.deep.equal([]);
    expect(resources).to.deep.include({ partition: 'long', timeLimitMinutes: 30, nodes: 2, memoryMB: 2048, account: 'astro' });
  });

  const refusals: Array<[string, Record<string, unknown>, Array<[string, OptionValue]>, string]> = [
    ['an unknown partition', { queue: 'gpu' }, [], 'queue'],
    ['a time over the partition limit', { queue: 'debug', jobwalltime: '01:00:00' }, [], 'jobwalltime'],
    ['an unparsable time', { jobwalltime: 'soon' }, [], 'jobwalltime'],
    ['too many nodes', { jobnodes: 3 }, [], 'jobnodes'],
    ['too many ranks', {}, [['nproc', 17]], 'nproc'],
    ['too much memory', { jobmemory: 9 }, [], 'jobmemory'],
    ['a hostile account', { jobusergroup: "x'; id #" }, [], 'jobusergroup'],
    ['an envfile not allowed by the cluster', { envfile: '/home/me/.bashrc' }, [], 'envfile'],
    ['a run flag that is not a boolean', { run: 'yes' }, [], 'run'],
  ];
  for (const [what, inputs, app, option] of refusals) {
    it(`refuses ${what}, naming '${option}'`, () => {
      const { resources, errors } = resolve(inputs, app);
      expect(resources).to.equal(undefined);
      expect(errors.map((e) => e.option)).to.include(option);
      expect(errors.find((e) => e.option === option)!.message).to.contain(option);
    });
  }

  it('accepts an envfile the cluster allows', () => {
    expect(resolve({ envfile: '/opt/site/caesar.env' }).resources?.envfile).to.equal('/opt/site/caesar.env');
  });
});

describe('jobs/parseWallTime', () => {
  const cases: Array<[unknown, number | undefined]> = [
    ['00:30:00', 30], ['1-00:00:00', 1440], ['00:00:05', 1], ['45', 45], [90, 90], ['0:0:0', undefined], ['abc', undefined], [1.5, undefined], [null, undefined],
  ];
  for (const [input, minutes] of cases) {
    it(`${JSON.stringify(input)} → ${minutes}`, () => expect(parseWallTime(input)).to.equal(minutes));
  }
});
