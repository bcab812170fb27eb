import { expect } from 'chai';
import { FIELD_SEPARATOR } from '../../../src/scheduler/slurm/commands.ts';
import {
  exitStatusOf, parseSacct, parseSbatchJobId, parseSlurmDuration, parseSqueue, type SlurmJobRecord,
} from '../../../src/scheduler/slurm/parse.ts';
import {
  accounted, fixture, jobId, live, recordIn, recording, sacctOf, squeueOf, type Scenario,
} from './fixtures.ts';

const UID = recording.uid;
/** Epoch seconds of the recording session: anything parsed as a time must be near it. */
const RECORDED_AT = Date.parse(recording.recordedAt) / 1000;

function expectRecentEpoch(value: number | null, what: string): asserts value is number {
  expect(value, what).to.be.a('number');
  expect(Number.isInteger(value), what).to.equal(true);
  expect(value!, what).to.be.within(RECORDED_AT - 3600, RECORDED_AT + 3600);
}

function expectTimesInOrder(r: SlurmJobRecord): void {
  expectRecentEpoch(r.submitAt, `${r.jobId} submitAt`);
  expectRecentEpoch(r.startAt, `${r.jobId} startAt`);
  expectRecentEpoch(r.endAt, `${r.jobId} endAt`);
  expect(r.startAt).to.be.at.least(r.submitAt);
  expect(r.endAt).to.be.at.least(r.startAt);
}

describe('slurm/parse: recorded fixtures are what the tests think they are', () => {
  it('were recorded on Slurm 22.05 with a job id per scenario', () => {
    expect(recording.slurmVersion).to.match(/^22\.05\./);
    expect(UID).to.match(/^\d+$/);
    for (const scenario of Object.keys(recording.jobs) as Scenario[]) {
      expect(jobId(scenario), scenario).to.match(/^\d+$/);
    }
  });

  it('keep the raw \\x1f separators (10 fields a row)', () => {
    const raw = fixture('multi-final.sacct.txt');
    const lines = raw.trimEnd().split('\n');
    expect(lines.length).to.be.greaterThan(5);
    for (const line of lines) expect(line.split(FIELD_SEPARATOR)).to.have.length(10);
    expect(raw).not.to.include('|');
  });
});

describe('slurm/parse: parseSacct on recorded final states', () => {
  const cases: { file: string; scenario: Scenario; name: string; state: string; exit: string; status: number | null }[] = [
    { file: 'completed', scenario: 'completed', name: 'fx-completed', state: 'COMPLETED', exit: '0:0', status: 0 },
    { file: 'failed', scenario: 'failed', name: 'fx-failed', state: 'FAILED', exit: '3:0', status: 3 },
    { file: 'cancelled', scenario: 'cancelled', name: 'fx-cancelled', state: `CANCELLED by ${UID}`, exit: '0:0', status: 0 },
    { file: 'timeout', scenario: 'timeout', name: 'fx-timeout', state: 'TIMEOUT', exit: '0:0', status: 0 },
    { file: 'oom', scenario: 'oom', name: 'fx-oom', state: 'OUT_OF_MEMORY', exit: '0:125', status: null },
    { file: 'node-fail', scenario: 'nodeFail', name: 'fx-node-fail', state: 'NODE_FAIL', exit: '0:0', status: 0 },
    { file: 'suspended-then-cancelled', scenario: 'suspended', name: 'fx-suspended', state: `CANCELLED by ${UID}`, exit: '0:0', status: 0 },
    { file: 'running-then-completed', scenario: 'running', name: 'fx-running', state: 'COMPLETED', exit: '0:0', status: 0 },
    { file: 'resources-then-completed', scenario: 'resources', name: 'fx-resources', state: 'COMPLETED', exit: '0:0', status: 0 },
  ];
  for (const c of cases) {
    it(`${c.file}.sacct.txt → job ${c.scenario}: ${c.state} ${c.exit}`, () => {
      const records = sacctOf(c.file);
      expect(records).to.have.length(1);
      const r = records[0]!;
      expect(r.jobId).to.equal(jobId(c.scenario));
      expect(r.jobName).to.equal(c.name);
      expect(r.state).to.equal(c.state);
      expect(r.exitCode).to.equal(c.exit);
      expect(exitStatusOf(r.exitCode)).to.equal(c.status);
      expect(r.reason).to.equal(null);
      expect(r.nodeList).to.equal(recording.node);
      expect(r.partition).to.equal('debug');
      expectTimesInOrder(r);
      // ElapsedRaw is the allocation's run time: end - start, minus the time it spent suspended.
      if (c.scenario === 'suspended') expect(r.elapsedSeconds).to.be.below(r.endAt! - r.startAt!);
      else expect(r.elapsedSeconds).to.equal(r.endAt! - r.startAt!);
    });
  }

  it('held-then-cancelled: never started → Start "None" and NodeList "None assigned" are null', () => {
    const raw = fixture('held-then-cancelled.sacct.txt');
    expect(raw).to.include(`${FIELD_SEPARATOR}None assigned${FIELD_SEPARATOR}`);
    expect(raw).to.include(`${FIELD_SEPARATOR}None${FIELD_SEPARATOR}`);
    const r = accounted('held-then-cancelled', 'held');
    expect(r.state).to.equal(`CANCELLED by ${UID}`);
    expect(r.nodeList).to.equal(null);
    expect(r.startAt).to.equal(null);
    expectRecentEpoch(r.submitAt, 'submitAt');
    expectRecentEpoch(r.endAt, 'endAt');
    expect(r.elapsedSeconds).to.equal(0);
  });
});

describe('slurm/parse: parseSacct on recorded live states', () => {
  it('held.sacct.txt: PENDING 0:0, Start/End "Unknown" → null', () => {
    expect(fixture('held.sacct.txt')).to.include(`Unknown${FIELD_SEPARATOR}Unknown`);
    const r = accounted('held', 'held');
    expect(r).to.include({ jobName: 'fx-held', state: 'PENDING', exitCode: '0:0', nodeList: null, partition: 'debug' });
    expect(r.startAt).to.equal(null);
    expect(r.endAt).to.equal(null);
    expectRecentEpoch(r.submitAt, 'submitAt');
  });

  for (const [file, scenario, state] of [
    ['running', 'running', 'RUNNING'],
    ['suspended', 'suspended', 'SUSPENDED'],
  ] as const) {
    it(`${file}.sacct.txt: ${state}, started, End "Unknown" → null`, () => {
      const r = accounted(file, scenario);
      expect(r.state).to.equal(state);
      expect(r.exitCode).to.equal('0:0');
      expect(r.nodeList).to.equal(recording.node);
      expectRecentEpoch(r.startAt, 'startAt');
      expect(r.endAt).to.equal(null);
      expect(r.elapsedSeconds).to.be.a('number');
    });
  }

  it('accounting lag: sacct right after `sbatch -H` is empty; a job accounting half-knows is named "allocation"', () => {
    expect(fixture('held-just-submitted.sacct.txt')).to.equal('');
    expect(sacctOf('held-just-submitted')).to.deep.equal([]);
    // Recorded while squeue already said COMPLETING: the row came from the node, not yet from slurmctld.
    const r = accounted('completing', 'completing');
    expect(r.jobName).to.equal('allocation');
    expect(r.partition).to.equal(null);
    expect(r.state).to.equal('COMPLETED');
  });

  it('completing-cancelled.sacct.txt: sacct already says "CANCELLED by <uid>"', () => {
    expect(accounted('completing-cancelled', 'completingCancelled').state).to.equal(`CANCELLED by ${UID}`);
  });

  it('an unknown id gives no rows (exit 0, empty output)', () => {
    expect(fixture('invalid-id.sacct.txt')).to.equal('');
    expect(sacctOf('invalid-id')).to.deep.equal([]);
  });
});

describe('slurm/parse: parseSacct without --allocations (step rows)', () => {
  const raw = fixture('all-steps.sacct.txt');
  const records = parseSacct(raw);
  const ids = ['completed', 'failed', 'cancelled', 'timeout', 'oom', 'running', 'suspended', 'held', 'resources',
    'completingCancelled', 'nodeFail'] as const;

  it('the recording really has .batch and .extern rows', () => {
    expect(raw).to.include(`${jobId('timeout')}.batch${FIELD_SEPARATOR}`);
    expect(raw).to.include(`${jobId('timeout')}.extern${FIELD_SEPARATOR}`);
    expect(raw.trimEnd().split('\n').length).to.be.greaterThan(ids.length * 2);
  });

  it('keeps one allocation row per job and ignores the step rows', () => {
    expect(records.map((r) => r.jobId).sort()).to.deep.equal(ids.map(jobId).sort());
    expect(records.every((r) => /^\d+$/.test(r.jobId))).to.equal(true);
    expect(records.some((r) => r.jobName === 'batch' || r.jobName === 'extern')).to.equal(false);
  });

  it('takes the job state, not the step state (TIMEOUT job, batch step CANCELLED 0:15)', () => {
    expect(raw).to.match(new RegExp(`${jobId('timeout')}\\.batch\\x1fbatch\\x1fCANCELLED\\x1f0:15`));
    const r = recordIn(records, jobId('timeout'));
    expect(r.state).to.equal('TIMEOUT');
    expect(r.exitCode).to.equal('0:0');
    expect(recordIn(records, jobId('nodeFail')).state).to.equal('NODE_FAIL');
    expect(recordIn(records, jobId('oom')).exitCode).to.equal('0:125');
  });
});

describe('slurm/parse: parseSqueue on recorded output', () => {
  const finals: { file: string; scenario: Scenario; state: string; reason: string | null }[] = [
    { file: 'completed', scenario: 'completed', state: 'COMPLETED', reason: null },
    { file: 'failed', scenario: 'failed', state: 'FAILED', reason: 'NonZeroExitCode' },
    { file: 'cancelled', scenario: 'cancelled', state: 'CANCELLED', reason: null },
    { file: 'timeout', scenario: 'timeout', state: 'TIMEOUT', reason: 'TimeLimit' },
    { file: 'oom', scenario: 'oom', state: 'OUT_OF_MEMORY', reason: 'OutOfMemory' },
    { file: 'node-fail', scenario: 'nodeFail', state: 'NODE_FAIL', reason: 'NodeDown' },
  ];
  for (const c of finals) {
    it(`${c.file}.squeue.txt → ${c.state} (reason ${c.reason ?? 'None → null'}), same times as sacct`, () => {
      const records = squeueOf(c.file);
      expect(records).to.have.length(1);
      const r = records[0]!;
      const a = accounted(c.file, c.scenario);
      expect(r.jobId).to.equal(jobId(c.scenario));
      expect(r.state).to.equal(c.state);
      expect(r.reason).to.equal(c.reason);
      expect(r.exitCode).to.equal(null); // squeue has no exit code
      expect(r.nodeList).to.equal(recording.node);
      expect(r.partition).to.equal('debug');
      expect(r.jobName).to.equal(a.jobName);
      expectTimesInOrder(r);
      expect([r.submitAt, r.startAt, r.endAt]).to.deep.equal([a.submitAt, a.startAt, a.endAt]);
      // %M ("0:08") parsed to seconds; Slurm counts the same run time as sacct's ElapsedRaw.
      expect(r.elapsedSeconds).to.equal(a.elapsedSeconds);
    });
  }

  it('cancelled: squeue prints plain CANCELLED (no "by <uid>")', () => {
    expect(live('cancelled', 'cancelled').state).to.equal('CANCELLED');
    expect(accounted('cancelled', 'cancelled').state).to.equal(`CANCELLED by ${UID}`);
  });

  it('held.squeue.txt: PENDING, reason JobHeldUser, empty %N and "N/A" times → null', () => {
    expect(fixture('held.squeue.txt')).to.include(`N/A${FIELD_SEPARATOR}N/A`);
    const r = live('held', 'held');
    expect(r).to.include({ state: 'PENDING', reason: 'JobHeldUser', nodeList: null, partition: 'debug', elapsedSeconds: 0 });
    expect(r.startAt).to.equal(null);
    expect(r.endAt).to.equal(null);
    expectRecentEpoch(r.submitAt, 'submitAt');
  });

  it('resources.squeue.txt: PENDING, reason Resources', () => {
    expect(live('resources', 'resources')).to.include({ state: 'PENDING', reason: 'Resources', nodeList: null });
  });

  for (const [file, scenario, state] of [
    ['running', 'running', 'RUNNING'],
    ['suspended', 'suspended', 'SUSPENDED'],
    ['completed-running', 'completed', 'RUNNING'],
    ['node-fail-running', 'nodeFail', 'RUNNING'],
  ] as const) {
    it(`${file}.squeue.txt: ${state} on the node, end = start + the 5-minute default limit`, () => {
      const r = live(file, scenario);
      expect(r.state).to.equal(state);
      expect(r.reason).to.equal(null);
      expect(r.nodeList).to.equal(recording.node);
      expectRecentEpoch(r.startAt, 'startAt');
      expect(r.endAt! - r.startAt).to.equal(300);
      expect(r.elapsedSeconds).to.be.a('number').and.at.least(0);
    });
  }

  it('completing*.squeue.txt: COMPLETING, with the end time set', () => {
    for (const [file, scenario] of [['completing', 'completing'], ['completing-cancelled', 'completingCancelled']] as const) {
      const r = live(file, scenario);
      expect(r.state, file).to.equal('COMPLETING');
      expectTimesInOrder(r);
    }
  });

  it('multi-final: one call for all ids (plus an unknown one) gives a row per known job, in squeue order', () => {
    const all = ['completed', 'failed', 'cancelled', 'timeout', 'oom', 'running', 'suspended', 'held', 'resources',
      'completingCancelled', 'nodeFail'] as const;
    const records = squeueOf('multi-final');
    expect(records.map((r) => r.jobId).sort()).to.deep.equal(all.map(jobId).sort());
    expect(records.map((r) => r.jobId)).not.to.include(jobId('invalid'));
    const byId = new Map(records.map((r) => [r.jobId, r]));
    expect(byId.get(jobId('failed'))?.state).to.equal('FAILED');
    expect(byId.get(jobId('held'))?.state).to.equal('CANCELLED');
    expect(byId.get(jobId('held'))?.reason).to.equal('JobHeldUser');
    const acct = new Map(sacctOf('multi-final').map((r) => [r.jobId, r]));
    expect([...acct.keys()].sort()).to.deep.equal(all.map(jobId).sort());
    expect(acct.get(jobId('cancelled'))?.state).to.equal(`CANCELLED by ${UID}`);
  });

  it('multi-midway: pending, running and suspended jobs side by side in one call', () => {
    const records = squeueOf('multi-midway');
    expect(records).to.have.length(9);
    const state = (s: Scenario) => recordIn(records, jobId(s));
    expect(state('held')).to.include({ state: 'PENDING', reason: 'JobHeldUser' });
    expect(state('resources')).to.include({ state: 'PENDING', reason: 'Resources' });
    expect(state('running')).to.include({ state: 'RUNNING', reason: null });
    expect(state('suspended')).to.include({ state: 'SUSPENDED' });
    expect(state('oom')).to.include({ state: 'OUT_OF_MEMORY', reason: 'OutOfMemory' });
    const acct = sacctOf('multi-midway');
    expect(recordIn(acct, jobId('suspended')).state).to.equal('SUSPENDED');
    expect(recordIn(acct, jobId('held')).state).to.equal('PENDING');
  });

  it('an id slurmctld does not know: empty stdout, "Invalid job id" on stderr, exit status 1', () => {
    expect(fixture('invalid-id.squeue.txt')).to.equal('');
    expect(squeueOf('invalid-id')).to.deep.equal([]);
    // The poller tolerates exactly this message (SlurmScheduler.snapshot).
    expect(fixture('invalid-id.squeue.stderr.txt')).to.match(/Invalid job id/i);
    expect(fixture('invalid-id.squeue.exitcode.txt').trim()).to.equal('1');
  });
});

describe('slurm/parse: defensive parsing', () => {
  const row = fixture('running.squeue.txt').trimEnd();

  it('skips warnings and noise around the data', () => {
    const noisy = `squeue: error: Some warning from a plugin\nWelcome to the cluster!\n${row}\n\n`;
    const records = parseSqueue(noisy);
    expect(records).to.have.length(1);
    expect(records[0]!.jobId).to.equal(jobId('running'));
  });

  it('drops rows with the wrong number of fields and non-numeric ids (array tasks, headers)', () => {
    const fields = row.split(FIELD_SEPARATOR);
    const short = fields.slice(0, 9).join(FIELD_SEPARATOR);
    const header = ['JOBID', ...fields.slice(1)].join(FIELD_SEPARATOR);
    const arrayTask = [`${fields[0]}_3`, ...fields.slice(1)].join(FIELD_SEPARATOR);
    expect(parseSqueue([short, header, arrayTask].join('\n'))).to.deep.equal([]);
    expect(parseSqueue([short, row, header].join('\n')).map((r) => r.jobId)).to.deep.equal([jobId('running')]);
  });

  it('treats epoch 0 as no time', () => {
    const fields = fixture('completed.sacct.txt').trimEnd().split(FIELD_SEPARATOR);
    fields[8] = '0';
    expect(parseSacct(fields.join(FIELD_SEPARATOR))[0]!.startAt).to.equal(null);
  });
});

describe('slurm/parse: parseSbatchJobId', () => {
  it('reads the recorded `sbatch --parsable` outputs', () => {
    expect(parseSbatchJobId(fixture('sbatch.parsable.txt'))).to.equal(jobId('completed'));
    expect(fixture('sbatch.parsable-clusters.txt').trim()).to.equal(`${jobId('clusters')};${recording.cluster}`);
    expect(parseSbatchJobId(fixture('sbatch.parsable-clusters.txt'))).to.equal(jobId('clusters'));
  });

  const cases: [string, string | undefined][] = [
    ['123', '123'],
    ['123\n', '123'],
    ['123;cluster\n', '123'],
    ['4567;my-cluster', '4567'],
    ['sbatch: warning: can\'t honor --ntasks-per-node\nsbatch: Warning: partition default\n789\n', '789'],
    ['Welcome to the login node\n\n  42  \n', '42'],
    ['Submitted batch job 123\n', undefined],
    ['garbage', undefined],
    ['12a', undefined],
    [';cluster', undefined],
    ['-1', undefined],
    ['', undefined],
    ['\n\n', undefined],
  ];
  for (const [stdout, id] of cases) {
    it(`${JSON.stringify(stdout)} → ${id ?? 'undefined'}`, () => {
      expect(parseSbatchJobId(stdout)).to.equal(id);
    });
  }
});

describe('slurm/parse: parseSlurmDuration (squeue %M)', () => {
  const cases: [string | undefined, number | null][] = [
    ['0:00', 0],
    ['0:08', 8],
    ['59:59', 3599],
    ['1:02:03', 3723],
    ['2-03:04:05', 2 * 86400 + 3 * 3600 + 4 * 60 + 5],
    ['1-00:00:00', 86400],
    [' 0:13 ', 13],
    ['UNLIMITED', null],
    ['INVALID', null],
    ['N/A', null],
    ['12', null],
    ['', null],
    [undefined, null],
  ];
  for (const [value, seconds] of cases) {
    it(`${JSON.stringify(value)} → ${seconds}`, () => {
      expect(parseSlurmDuration(value)).to.equal(seconds);
    });
  }
});

describe('slurm/parse: exitStatusOf', () => {
  const cases: [string | null, number | null][] = [
    ['0:0', 0],
    ['3:0', 3],
    ['1:0', 1],
    ['0:9', 137], // killed by SIGKILL, as a shell reports it
    ['0:15', 143],
    // OUT_OF_MEMORY: 125 is Slurm's marker for an out-of-memory kill, not a real signal: no exit status.
    ['0:125', null],
    ['garbage', null],
    ['3', null],
    ['', null],
    [null, null],
  ];
  for (const [code, status] of cases) {
    it(`${JSON.stringify(code)} → ${status}`, () => {
      expect(exitStatusOf(code)).to.equal(status);
    });
  }
});
