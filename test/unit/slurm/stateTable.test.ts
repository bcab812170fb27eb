import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { baseStateWord, cancelledBy, mapSlurmState } from '../../../src/scheduler/slurm/stateTable.ts';
import { isFinal, type JobState } from '../../../src/jobs/states.ts';
import { fixturePath, recording, sacctOf, squeueOf } from './fixtures.ts';

interface Expected {
  state: JobState;
  settled: boolean;
  mayRequeue: boolean;
}

const pending: Expected = { state: 'PENDING', settled: true, mayRequeue: false };
const running: Expected = { state: 'RUNNING', settled: true, mayRequeue: false };
const runningUnsettled: Expected = { state: 'RUNNING', settled: false, mayRequeue: false };
const failure: Expected = { state: 'FAILURE', settled: true, mayRequeue: false };
const failureMayRequeue: Expected = { state: 'FAILURE', settled: true, mayRequeue: true };

// The table in /work/shared/design/slurm.md ("Slurm state → job state"), one row per Slurm word.
const TABLE: [string, Expected][] = [
  ['PENDING', pending],
  ['CONFIGURING', pending],
  ['REQUEUED', pending],
  ['REQUEUE_FED', pending],
  ['REQUEUE_HOLD', pending],
  ['RESV_DEL_HOLD', pending],
  ['SPECIAL_EXIT', pending],
  ['RUNNING', running],
  ['COMPLETING', runningUnsettled],
  ['STAGE_OUT', runningUnsettled],
  ['SIGNALING', runningUnsettled],
  ['RESIZING', running],
  ['SUSPENDED', running],
  ['STOPPED', running],
  ['COMPLETED', { state: 'SUCCESS', settled: true, mayRequeue: false }],
  ['FAILED', failure],
  ['OUT_OF_MEMORY', failure],
  ['NODE_FAIL', failureMayRequeue],
  ['BOOT_FAIL', failure],
  ['DEADLINE', failure],
  ['PREEMPTED', failureMayRequeue],
  ['TIMEOUT', { state: 'TIMED-OUT', settled: true, mayRequeue: false }],
  ['CANCELLED', { state: 'CANCELED', settled: true, mayRequeue: false }],
  // Federation: the job runs on a sibling cluster; not final, keep polling.
  ['REVOKED', pending],
];

describe('slurm/stateTable: every Slurm job state word', () => {
  for (const [word, expected] of TABLE) {
    it(`${word} → ${expected.state}${expected.settled ? '' : ' (not settled)'}${expected.mayRequeue ? ' (may requeue)' : ''}`, () => {
      const mapped = mapSlurmState(word);
      expect({ state: mapped.state, settled: mapped.settled, mayRequeue: mapped.mayRequeue }).to.deep.equal(expected);
      expect(mapped.words).to.be.a('string').and.not.match(/unrecognised/);
    });
  }

  it('only the end states are final (REVOKED and the RUNNING flags are not)', () => {
    const finals = TABLE.filter(([word]) => isFinal(mapSlurmState(word).state)).map(([word]) => word).sort();
    expect(finals).to.deep.equal(
      ['BOOT_FAIL', 'CANCELLED', 'COMPLETED', 'DEADLINE', 'FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'TIMEOUT'],
    );
  });

  it('says which failure it was and that a job is suspended', () => {
    expect(mapSlurmState('OUT_OF_MEMORY').words).to.match(/out of memory/);
    expect(mapSlurmState('NODE_FAIL').words).to.match(/node fail/);
    expect(mapSlurmState('TIMEOUT').words).to.match(/time limit/);
    expect(mapSlurmState('SUSPENDED').words).to.equal('suspended');
    expect(mapSlurmState('DEADLINE').words).to.match(/deadline/);
  });
});

describe('slurm/stateTable: short codes (sacct State%2, site wrappers)', () => {
  const SHORT: [string, string][] = [
    ['BF', 'BOOT_FAIL'], ['CA', 'CANCELLED'], ['CD', 'COMPLETED'], ['DL', 'DEADLINE'], ['F', 'FAILED'],
    ['NF', 'NODE_FAIL'], ['OOM', 'OUT_OF_MEMORY'], ['PD', 'PENDING'], ['PR', 'PREEMPTED'], ['R', 'RUNNING'],
    ['RQ', 'REQUEUED'], ['RS', 'RESIZING'], ['RV', 'REVOKED'], ['S', 'SUSPENDED'], ['TO', 'TIMEOUT'],
    ['CG', 'COMPLETING'], ['CF', 'CONFIGURING'], ['SO', 'STAGE_OUT'], ['ST', 'STOPPED'], ['SI', 'SIGNALING'],
    ['SE', 'SPECIAL_EXIT'],
  ];
  for (const [code, word] of SHORT) {
    it(`${code} → ${word}`, () => {
      expect(baseStateWord(code)).to.equal(word);
      expect(mapSlurmState(code)).to.deep.equal(mapSlurmState(word));
    });
  }
});

describe('slurm/stateTable: decorated and odd state strings', () => {
  const uid = recording.uid;
  const cases: [string, string, JobState][] = [
    [`CANCELLED by ${uid}`, 'CANCELLED', 'CANCELED'],
    ['CANCELLED by 0', 'CANCELLED', 'CANCELED'],
    ['CANCELLED+', 'CANCELLED', 'CANCELED'],   // truncated column in non-parsable output
    ['cancelled+', 'CANCELLED', 'CANCELED'],
    ['  COMPLETED  ', 'COMPLETED', 'SUCCESS'],
    ['completed', 'COMPLETED', 'SUCCESS'],
    ['cd', 'COMPLETED', 'SUCCESS'],
    ['OUT_OF_ME+', 'OUT_OF_ME', 'UNKNOWN'],   // a truncated word is not guessed
  ];
  for (const [raw, word, state] of cases) {
    it(`${JSON.stringify(raw)} → ${word} → ${state}`, () => {
      expect(baseStateWord(raw)).to.equal(word);
      expect(mapSlurmState(raw).state).to.equal(state);
    });
  }

  for (const garbage of ['WEIRD_NEW_STATE', 'RUNNNING', '', '   ', '???']) {
    it(`${JSON.stringify(garbage)} → UNKNOWN, not settled, never final`, () => {
      const mapped = mapSlurmState(garbage);
      expect(mapped.state).to.equal('UNKNOWN');
      expect(mapped.settled).to.equal(false);
      expect(mapped.mayRequeue).to.equal(false);
      expect(isFinal(mapped.state)).to.equal(false);
      expect(mapped.words).to.match(/^unrecognised Slurm state '/);
      if (garbage.trim()) expect(mapped.words).to.include(garbage.trim());
    });
  }
});

describe('slurm/stateTable: cancelledBy', () => {
  const cases: [string, string | undefined][] = [
    [`CANCELLED by ${recording.uid}`, recording.uid],
    ['CANCELLED by 0', '0'],
    ['CANCELLED', undefined],
    ['CANCELLED+', undefined],
    ['COMPLETED', undefined],
    ['', undefined],
  ];
  for (const [raw, who] of cases) {
    it(`${JSON.stringify(raw)} → ${who ?? 'undefined'}`, () => {
      expect(cancelledBy(raw)).to.equal(who);
    });
  }

  it('finds the uid in the recorded sacct row of a job the user cancelled', () => {
    const [row] = sacctOf('cancelled');
    expect(cancelledBy(row!.state)).to.equal(recording.uid);
    const [live] = squeueOf('cancelled');
    expect(cancelledBy(live!.state)).to.equal(undefined);
  });
});

describe('slurm/stateTable: every state recorded from the real cluster is known', () => {
  const files = readdirSync(fixturePath('.')).filter((f) => /\.(squeue|sacct)\.txt$/.test(f));
  const states = new Set<string>();
  for (const file of files) {
    const base = file.replace(/\.(squeue|sacct)\.txt$/, '');
    const records = file.endsWith('.squeue.txt') ? squeueOf(base) : sacctOf(base);
    for (const r of records) states.add(r.state);
  }

  it('the recordings cover the states the scenarios drove jobs into', () => {
    for (const word of ['PENDING', 'RUNNING', 'SUSPENDED', 'COMPLETING', 'COMPLETED', 'FAILED', 'CANCELLED',
      `CANCELLED by ${recording.uid}`, 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL']) {
      expect([...states], word).to.include(word);
    }
  });

  it('none of them maps to UNKNOWN', () => {
    for (const state of states) expect(mapSlurmState(state).state, state).not.to.equal('UNKNOWN');
  });
});
