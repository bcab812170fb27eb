import { expect } from 'chai';
import { decideVerdict, type Verdict, type VerdictInput } from '../../../src/jobs/slurmVerdict.ts';
import type { JobState } from '../../../src/jobs/states.ts';
import type { SlurmJobRecord } from '../../../src/scheduler/slurm/parse.ts';
import { accounted, jobId, live, recording, sacctOf, squeueOf, type Scenario } from './fixtures.ts';

const NOW = new Date(Date.parse(recording.recordedAt) + 60_000);
const LAG = 30;
const GRACE = 600;
const REQUEUE = 120;
const UID = recording.uid;

const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();
const iso = (epoch: number | null) => (epoch === null ? null : new Date(epoch * 1000).toISOString());

interface Case {
  scenario: Scenario;
  live?: SlurmJobRecord | undefined;
  accounted?: SlurmJobRecord | undefined;
  state?: JobState;
  missingSince?: string | null;
  finalSeenAt?: string | null;
  accountingAnswered?: boolean;
}

function verdict(c: Case): Verdict | undefined {
  const input: VerdictInput = {
    job: {
      state: c.state ?? 'RUNNING',
      missing_since: c.missingSince ?? null,
      final_seen_at: c.finalSeenAt ?? null,
      slurm_job_id: jobId(c.scenario),
    },
    live: c.live,
    accounted: c.accounted,
    accountingAnswered: c.accountingAnswered ?? true,
    now: NOW,
    accountingLagSeconds: LAG,
    missingGraceSeconds: GRACE,
    requeueGraceSeconds: REQUEUE,
  };
  return decideVerdict(input);
}

function decided(c: Case): Verdict {
  const v = verdict(c);
  if (!v) throw new Error('expected a verdict, got undefined');
  return v;
}

/** A recorded record with one field changed (for states the cluster cannot be driven into). */
function withState(r: SlurmJobRecord, state: string, reason: string | null = r.reason): SlurmJobRecord {
  return { ...r, state, reason };
}

describe('slurm/slurmVerdict: final states recorded by squeue and sacct after the end', () => {
  const cases: { file: string; scenario: Scenario; state: JobState; status: string; exit: number | null; exitCode: string }[] = [
    { file: 'completed', scenario: 'completed', state: 'SUCCESS', status: 'Job completed with success', exit: 0, exitCode: '0:0' },
    { file: 'failed', scenario: 'failed', state: 'FAILURE', status: 'Job failed with exit code 3:0', exit: 3, exitCode: '3:0' },
    { file: 'cancelled', scenario: 'cancelled', state: 'CANCELED', status: `Job canceled by uid ${UID}`, exit: 0, exitCode: '0:0' },
    { file: 'timeout', scenario: 'timeout', state: 'TIMED-OUT', status: 'Job stopped: time limit reached', exit: 0, exitCode: '0:0' },
    { file: 'oom', scenario: 'oom', state: 'FAILURE', status: 'Job failed: out of memory (exit code 0:125)', exit: null, exitCode: '0:125' },
    { file: 'suspended-then-cancelled', scenario: 'suspended', state: 'CANCELED', status: `Job canceled by uid ${UID}`, exit: 0, exitCode: '0:0' },
    { file: 'held-then-cancelled', scenario: 'held', state: 'CANCELED', status: `Job canceled by uid ${UID}`, exit: 0, exitCode: '0:0' },
    { file: 'resources-then-completed', scenario: 'resources', state: 'SUCCESS', status: 'Job completed with success', exit: 0, exitCode: '0:0' },
  ];
  for (const c of cases) {
    it(`${c.file}: ${c.state} — "${c.status}"`, () => {
      const l = live(c.file, c.scenario);
      const a = accounted(c.file, c.scenario);
      const v = decided({ scenario: c.scenario, live: l, accounted: a });
      expect(v.state).to.equal(c.state);
      expect(v.status).to.equal(c.status);
      expect(v.patch).to.include({
        slurm_state: a.state, // sacct's word, with "by <uid>"
        slurm_exit_code: c.exitCode,
        exit_code: c.exit,
        slurm_reason: l.reason, // sacct has none: squeue's
        partition: 'debug',
        slurm_submit_at: iso(a.submitAt),
        slurm_end_at: iso(a.endAt),
        elapsed_seconds: a.elapsedSeconds,
        missing_since: null,
        final_seen_at: NOW.toISOString(),
      });
      if (a.startAt !== null) expect(v.patch.slurm_start_at).to.equal(iso(a.startAt));
    });
  }

  it('a job cancelled before it started keeps sacct\'s Start "None", not squeue\'s %S (= the cancel time)', () => {
    const l = live('held-then-cancelled', 'held');
    const a = accounted('held-then-cancelled', 'held');
    expect(a.startAt).to.equal(null);
    expect(l.startAt).to.equal(l.endAt);
    const v = decided({ scenario: 'held', state: 'PENDING', live: l, accounted: a });
    expect(v.state).to.equal('CANCELED');
    expect(v.patch.slurm_start_at).to.equal(null);
    expect(v.patch.elapsed_seconds).to.equal(0);
  });

  it('the same verdicts once squeue has purged the job (sacct alone)', () => {
    for (const c of cases) {
      const v = decided({ scenario: c.scenario, live: undefined, accounted: accounted(c.file, c.scenario) });
      expect(v.state, c.file).to.equal(c.state);
      expect(v.status, c.file).to.equal(c.status);
    }
  });

  it('TIMEOUT carries squeue\'s reason TimeLimit, FAILED its NonZeroExitCode', () => {
    expect(decided({ scenario: 'timeout', live: live('timeout', 'timeout'), accounted: accounted('timeout', 'timeout') })
      .patch.slurm_reason).to.equal('TimeLimit');
    expect(decided({ scenario: 'failed', live: live('failed', 'failed'), accounted: accounted('failed', 'failed') })
      .patch.slurm_reason).to.equal('NonZeroExitCode');
  });

  it('keeps the first time the end was seen', () => {
    const v = decided({ scenario: 'completed', live: live('completed', 'completed'), accounted: accounted('completed', 'completed'), finalSeenAt: ago(7) });
    expect(v.patch.final_seen_at).to.equal(ago(7));
  });
});

describe('slurm/slurmVerdict: squeue shows the end before sacct does', () => {
  const finals: { file: string; scenario: Scenario; state: JobState; status: string }[] = [
    { file: 'completed', scenario: 'completed', state: 'SUCCESS', status: 'Job completed with success' },
    { file: 'failed', scenario: 'failed', state: 'FAILURE', status: 'Job failed with exit code unknown' },
    { file: 'cancelled', scenario: 'cancelled', state: 'CANCELED', status: 'Job canceled' },
    { file: 'timeout', scenario: 'timeout', state: 'TIMED-OUT', status: 'Job stopped: time limit reached' },
    { file: 'oom', scenario: 'oom', state: 'FAILURE', status: 'Job failed: out of memory' },
  ];
  for (const c of finals) {
    it(`${c.file}: state unchanged "waiting for accounting" until ${LAG} s passed, then ${c.state}`, () => {
      const l = live(c.file, c.scenario);
      const first = decided({ scenario: c.scenario, live: l, accounted: undefined });
      expect(first.state).to.equal('RUNNING');
      expect(first.status).to.equal(`${c.status}; waiting for accounting`);
      expect(first.waitingForAccounting).to.equal(true);
      expect(first.patch.final_seen_at).to.equal(NOW.toISOString());
      expect(first.patch.slurm_state).to.equal(l.state);

      const still = decided({ scenario: c.scenario, live: l, accounted: undefined, finalSeenAt: ago(LAG - 1) });
      expect(still.state).to.equal('RUNNING');
      expect(still.status).to.match(/; waiting for accounting$/);
      expect(still.patch.final_seen_at).to.equal(ago(LAG - 1));

      const later = decided({ scenario: c.scenario, live: l, accounted: undefined, finalSeenAt: ago(LAG) });
      expect(later.state).to.equal(c.state);
      expect(later.waitingForAccounting).to.equal(undefined);
      expect(later.status).to.equal(c.status);
      expect(later.patch.exit_code).to.equal(null); // sacct never told
    });
  }

  it('a PENDING job whose squeue row is already final also waits (state stays PENDING)', () => {
    const v = decided({ scenario: 'held', state: 'PENDING', live: live('held-then-cancelled', 'held'), accounted: undefined });
    expect(v.state).to.equal('PENDING');
    expect(v.status).to.equal('Job canceled; waiting for accounting');
  });

  it('sacct still lagging with a RUNNING row (same job, recorded earlier) → waits, then SUCCESS', () => {
    const l = live('running-then-completed', 'running');
    const stale = accounted('running', 'running');
    expect(stale.state).to.equal('RUNNING');
    const first = decided({ scenario: 'running', live: l, accounted: stale });
    expect(first.state).to.equal('RUNNING');
    expect(first.status).to.equal('Job completed with success; waiting for accounting');
    const later = decided({ scenario: 'running', live: l, accounted: stale, finalSeenAt: ago(LAG + 5) });
    expect(later.state).to.equal('SUCCESS');
  });

  it('never takes the exit code from a sacct row that has not seen the end yet', () => {
    // squeue: FAILED (exit unknown there); sacct still shows the RUNNING placeholder "0:0".
    const l = live('failed', 'failed');
    const stale = { ...accounted('running', 'running'), jobId: l.jobId };
    expect(stale.exitCode).to.equal('0:0');
    const later = decided({ scenario: 'failed', live: l, accounted: stale, finalSeenAt: ago(LAG + 1) });
    expect(later.state).to.equal('FAILURE');
    expect(later.patch.exit_code).to.equal(null);
    expect(later.status).to.equal('Job failed with exit code unknown');
  });

  it('once sacct has the row the verdict is immediate, whatever the lag window', () => {
    const v = decided({ scenario: 'failed', live: live('failed', 'failed'), accounted: accounted('failed', 'failed'), finalSeenAt: ago(1) });
    expect(v.state).to.equal('FAILURE');
    expect(v.status).to.equal('Job failed with exit code 3:0');
  });
});

describe('slurm/slurmVerdict: COMPLETING is not the end', () => {
  it('squeue COMPLETING + sacct COMPLETED (recorded together) → still RUNNING, not settled', () => {
    const l = live('completing', 'completing');
    const a = accounted('completing', 'completing');
    expect([l.state, a.state]).to.deep.equal(['COMPLETING', 'COMPLETED']);
    const v = decided({ scenario: 'completing', live: l, accounted: a });
    expect(v.state).to.equal('RUNNING');
    expect(v.status).to.equal(`Job completing in Slurm (job ${jobId('completing')})`);
    expect(v.patch.slurm_state).to.equal('COMPLETING');
    expect(v.patch.final_seen_at).to.equal(null);
  });

  it('squeue COMPLETING + sacct "CANCELLED by <uid>" (recorded together) → still RUNNING', () => {
    const l = live('completing-cancelled', 'completingCancelled');
    const a = accounted('completing-cancelled', 'completingCancelled');
    expect(a.state).to.equal(`CANCELLED by ${UID}`);
    const v = decided({ scenario: 'completingCancelled', live: l, accounted: a, finalSeenAt: ago(3600) });
    expect(v.state).to.equal('RUNNING');
    expect(v.status).to.equal(`Job completing in Slurm (job ${jobId('completingCancelled')})`);
    expect(v.patch.final_seen_at).to.equal(null);
  });

  it('STAGE_OUT / SIGNALING likewise keep a sacct-final job RUNNING', () => {
    const a = accounted('completed', 'completed');
    for (const flag of ['STAGE_OUT', 'SIGNALING']) {
      const v = decided({ scenario: 'completed', live: withState(live('completed', 'completed'), flag), accounted: a });
      expect(v.state, flag).to.equal('RUNNING');
      expect(v.patch.final_seen_at, flag).to.equal(null);
    }
  });

  it('squeue RUNNING wins over a sacct COMPLETED row (squeue is the live truth, e.g. a requeue)', () => {
    const v = decided({ scenario: 'running', live: live('running', 'running'), accounted: accounted('running-then-completed', 'running') });
    expect(v.state).to.equal('RUNNING');
    expect(v.patch.final_seen_at).to.equal(null);
  });
});

describe('slurm/slurmVerdict: jobs absent from squeue and sacct', () => {
  // The recorded answers for an id Slurm does not know: both empty.
  const noLive = squeueOf('invalid-id');
  const noAcct = sacctOf('invalid-id');

  it('the recorded answers are empty', () => {
    expect(noLive).to.deep.equal([]);
    expect(noAcct).to.deep.equal([]);
  });

  it('first absence: not final, state unchanged, missing_since set', () => {
    for (const state of ['PENDING', 'RUNNING'] as const) {
      const v = decided({ scenario: 'invalid', state, live: noLive[0], accounted: noAcct[0] });
      expect(v.state).to.equal(state);
      expect(v.status).to.equal('Job not (yet) visible in Slurm; still watching');
      expect(v.patch).to.deep.equal({ missing_since: NOW.toISOString() });
    }
  });

  it('within the grace window: still watching, missing_since kept', () => {
    const v = decided({ scenario: 'invalid', missingSince: ago(GRACE - 1) });
    expect(v.state).to.equal('RUNNING');
    expect(v.patch.missing_since).to.equal(ago(GRACE - 1));
  });

  it(`beyond missingGraceSeconds (${GRACE} s) → CLEARED`, () => {
    const v = decided({ scenario: 'invalid', missingSince: ago(GRACE) });
    expect(v.state).to.equal('CLEARED');
    expect(v.status).to.equal(`Job ${jobId('invalid')} vanished from both squeue and sacct for over ${GRACE} s; its outcome is unknown`);
    expect(v.patch.missing_since).to.equal(ago(GRACE));
  });

  it('accounting did not answer → no decision at all (undefined), even past the grace window', () => {
    expect(verdict({ scenario: 'invalid', accountingAnswered: false })).to.equal(undefined);
    expect(verdict({ scenario: 'invalid', accountingAnswered: false, missingSince: ago(GRACE * 10) })).to.equal(undefined);
  });

  it('a job seen again clears missing_since', () => {
    const v = decided({ scenario: 'running', missingSince: ago(100), live: live('running', 'running'), accounted: accounted('running', 'running') });
    expect(v.state).to.equal('RUNNING');
    expect(v.patch.missing_since).to.equal(null);
  });

  it('sacct not yet aware of a pending job (recorded lag) → squeue alone decides', () => {
    expect(sacctOf('resources')).to.deep.equal([]);
    const v = decided({ scenario: 'resources', state: 'PENDING', live: live('resources', 'resources'), accounted: undefined });
    expect(v.state).to.equal('PENDING');
    expect(v.status).to.equal(`Job pending in Slurm (job ${jobId('resources')}, reason: Resources)`);
  });
});

describe('slurm/slurmVerdict: NODE_FAIL waits for a possible requeue', () => {
  const l = live('node-fail', 'nodeFail');
  const a = accounted('node-fail', 'nodeFail');

  it('first seen: state unchanged, "waiting in case Slurm requeues it"', () => {
    const v = decided({ scenario: 'nodeFail', live: l, accounted: a });
    expect(v.state).to.equal('RUNNING');
    expect(v.status).to.equal('Job failed: node failure (exit code 0:0); waiting in case Slurm requeues it');
    expect(v.patch.final_seen_at).to.equal(NOW.toISOString());
    expect(v.patch.slurm_state).to.equal('NODE_FAIL');
    expect(v.patch.slurm_reason).to.equal('NodeDown');
  });

  it(`still waiting just before requeueGraceSeconds (${REQUEUE} s)`, () => {
    const v = decided({ scenario: 'nodeFail', live: l, accounted: a, finalSeenAt: ago(REQUEUE - 1) });
    expect(v.state).to.equal('RUNNING');
    expect(v.status).to.match(/waiting in case Slurm requeues it$/);
  });

  it('after the window → FAILURE "node failure"', () => {
    const v = decided({ scenario: 'nodeFail', live: l, accounted: a, finalSeenAt: ago(REQUEUE) });
    expect(v.state).to.equal('FAILURE');
    expect(v.status).to.equal('Job failed: node failure (exit code 0:0)');
    expect(v.patch.final_seen_at).to.equal(ago(REQUEUE));
  });

  it('requeued meanwhile (squeue PENDING again) → PENDING, end forgotten', () => {
    const v = decided({ scenario: 'nodeFail', live: withState(l, 'PENDING', 'BeginTime'), accounted: a, finalSeenAt: ago(60) });
    expect(v.state).to.equal('PENDING');
    expect(v.status).to.equal(`Job pending in Slurm (job ${jobId('nodeFail')}, reason: BeginTime)`);
    expect(v.patch.final_seen_at).to.equal(null);
  });

  it('PREEMPTED waits the same way', () => {
    const v = decided({ scenario: 'nodeFail', live: undefined, accounted: withState(a, 'PREEMPTED') });
    expect(v.state).to.equal('RUNNING');
    expect(v.status).to.match(/^Job failed: preempted.*waiting in case Slurm requeues it$/);
  });
});

describe('slurm/slurmVerdict: live states recorded by squeue', () => {
  it('held: PENDING with the reason JobHeldUser in the status', () => {
    const v = decided({ scenario: 'held', state: 'PENDING', live: live('held', 'held'), accounted: accounted('held', 'held') });
    expect(v.state).to.equal('PENDING');
    expect(v.status).to.equal(`Job pending in Slurm (job ${jobId('held')}, reason: JobHeldUser)`);
    expect(v.patch).to.include({ slurm_state: 'PENDING', slurm_reason: 'JobHeldUser', slurm_start_at: null, node_list: null, final_seen_at: null });
  });

  it('running: RUNNING on the node', () => {
    const v = decided({ scenario: 'running', state: 'PENDING', live: live('running', 'running'), accounted: accounted('running', 'running') });
    expect(v.state).to.equal('RUNNING');
    expect(v.status).to.equal(`Job running in Slurm (job ${jobId('running')} on ${recording.node})`);
    expect(v.patch.node_list).to.equal(recording.node);
    expect(v.patch.slurm_exit_code).to.equal(null); // a running job has no exit code yet (sacct's "0:0" is a placeholder)
  });

  it('running while sacct still has the half-known "allocation" row', () => {
    const v = decided({ scenario: 'nodeFail', live: live('node-fail-running', 'nodeFail'), accounted: accounted('node-fail-running', 'nodeFail') });
    expect(v.state).to.equal('RUNNING');
    expect(v.status).to.match(/^Job running in Slurm/);
  });

  it('suspended: RUNNING, and the status says suspended', () => {
    const v = decided({ scenario: 'suspended', live: live('suspended', 'suspended'), accounted: accounted('suspended', 'suspended') });
    expect(v.state).to.equal('RUNNING');
    expect(v.status).to.equal(`Job suspended in Slurm (job ${jobId('suspended')})`);
    expect(v.patch.slurm_state).to.equal('SUSPENDED');
  });

  it('an unrecognised Slurm word → UNKNOWN, keeps watching', () => {
    const v = decided({ scenario: 'running', live: withState(live('running', 'running'), 'WEIRD_NEW_STATE'), accounted: accounted('running', 'running') });
    expect(v.state).to.equal('UNKNOWN');
    expect(v.status).to.equal("Slurm reports unrecognised Slurm state 'WEIRD_NEW_STATE'; still watching the job");
    expect(v.patch.final_seen_at).to.equal(null);
    expect(v.patch.slurm_state).to.equal('WEIRD_NEW_STATE');
  });

  it('an unrecognised word in sacct alone → UNKNOWN too', () => {
    const v = decided({ scenario: 'running', live: undefined, accounted: withState(accounted('running', 'running'), 'WEIRD') });
    expect(v.state).to.equal('UNKNOWN');
  });

  it('REVOKED (federation) → PENDING, keep polling', () => {
    const v = decided({ scenario: 'held', state: 'PENDING', live: withState(live('held', 'held'), 'REVOKED', null), accounted: undefined });
    expect(v.state).to.equal('PENDING');
    expect(v.status).to.match(/revoked here, running on a sibling cluster/);
  });
});

describe('slurm/slurmVerdict: one poll cycle over many jobs (recorded multi-id calls)', () => {
  function cycle(base: string): Map<string, Verdict | undefined> {
    const liveById = new Map(squeueOf(base).map((r) => [r.jobId, r]));
    const acctById = new Map(sacctOf(base).map((r) => [r.jobId, r]));
    const out = new Map<string, Verdict | undefined>();
    for (const id of new Set([...liveById.keys(), ...acctById.keys()])) {
      out.set(id, decideVerdict({
        job: { state: 'RUNNING', missing_since: null, final_seen_at: null, slurm_job_id: id },
        live: liveById.get(id), accounted: acctById.get(id), accountingAnswered: true, now: NOW,
        accountingLagSeconds: LAG, missingGraceSeconds: GRACE, requeueGraceSeconds: REQUEUE,
      }));
    }
    return out;
  }

  it('multi-midway: pending, running, suspended and finished jobs side by side', () => {
    const v = cycle('multi-midway');
    const expected: [Scenario, JobState, RegExp][] = [
      ['held', 'PENDING', /reason: JobHeldUser/],
      ['resources', 'PENDING', /reason: Resources/],
      ['running', 'RUNNING', /^Job running in Slurm/],
      ['timeout', 'RUNNING', /^Job running in Slurm/],
      ['suspended', 'RUNNING', /^Job suspended/],
      ['failed', 'FAILURE', /^Job failed with exit code 3:0$/],
      ['oom', 'FAILURE', /out of memory/],
      ['cancelled', 'CANCELED', new RegExp(`^Job canceled by uid ${UID}$`)],
      ['completed', 'SUCCESS', /^Job completed with success$/],
    ];
    expect(v.size).to.equal(expected.length);
    for (const [scenario, state, status] of expected) {
      const verdict = v.get(jobId(scenario));
      expect(verdict?.state, scenario).to.equal(state);
      expect(verdict?.status, scenario).to.match(status);
    }
  });

  it('multi-final: every job has its end state (NODE_FAIL still in its requeue window)', () => {
    const v = cycle('multi-final');
    const expected: [Scenario, JobState][] = [
      ['completed', 'SUCCESS'], ['failed', 'FAILURE'], ['cancelled', 'CANCELED'], ['timeout', 'TIMED-OUT'],
      ['oom', 'FAILURE'], ['running', 'SUCCESS'], ['suspended', 'CANCELED'], ['held', 'CANCELED'],
      ['resources', 'SUCCESS'], ['completingCancelled', 'CANCELED'], ['nodeFail', 'RUNNING'],
    ];
    expect(v.size).to.equal(expected.length);
    for (const [scenario, state] of expected) expect(v.get(jobId(scenario))?.state, scenario).to.equal(state);
    expect(v.has(jobId('invalid'))).to.equal(false);
  });
});
