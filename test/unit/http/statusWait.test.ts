import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { expect } from 'chai';
import { JobChanges } from '../../../src/jobs/jobChanges.ts';
import { HttpError } from '../../../src/http/httpError.ts';
import { waitForChange, waitMilliseconds, type StatusWaits } from '../../../src/http/statusWait.ts';

describe('the wait query parameter', () => {
  for (const [value, ms] of [['30', 30_000], ['2.5', 2500], ['60', 60_000], ['0.001', 1], ['007', 7000]] as const) {
    it(`accepts ${value} (${ms} ms)`, () => expect(waitMilliseconds(value)).to.equal(ms));
  }
  it('is absent when not given', () => expect(waitMilliseconds(undefined)).to.equal(undefined));
  for (const value of ['0', '0.0', '60.5', '61', '-1', '', 'abc', '1e1', '0x10', ' 5', 'Infinity', '5s', ['1', '2']]) {
    it(`refuses ${JSON.stringify(value)} with a 400 that says what is allowed`, () => {
      expect(() => waitMilliseconds(value)).to.throw(HttpError, /greater than 0 and at most 60/)
        .with.property('httpStatus', 400);
    });
  }
});

describe('waiting for a status to change', () => {
  let changes: JobChanges;
  let waits: StatusWaits;
  let socket: Socket;
  let res: ServerResponse;
  beforeEach(() => {
    changes = new JobChanges();
    waits = { changes, recheckMs: 60_000, maxWaiters: 10 };
    socket = new Socket();
    res = new ServerResponse(new IncomingMessage(socket));
    res.assignSocket(socket);
  });
  afterEach(() => socket.destroy());

  /** A status that is a version number; `changed` unless it is the version the client has. */
  function waiter(store: { version: number }, timeoutMs = 10_000) {
    return waitForChange(waits, {
      id: 'job', initial: store.version, timeoutMs, res,
      read: () => Promise.resolve(store.version), changed: (v) => v !== 1,
    });
  }
  const until = async (what: () => boolean) => { while (!what()) await new Promise((r) => setTimeout(r, 5)); };

  it('answers with the new status when a notified write changed it, and stops listening', async () => {
    const store = { version: 1 };
    const started = Date.now();
    const waiting = waiter(store);
    await until(() => changes.size === 1);
    store.version = 2;
    changes.notify('job');
    expect(await waiting).to.equal(2);
    expect(Date.now() - started).to.be.below(9_000);
    expect(changes.size).to.equal(0);
  });

  it('keeps waiting after a write that left the status as it was, until the wait ends', async () => {
    const store = { version: 1 };
    let reads = 0;
    const waiting = waitForChange(waits, {
      id: 'job', initial: 1, timeoutMs: 300, res, changed: (v) => v !== 1,
      read: () => { reads += 1; return Promise.resolve(store.version); },
    });
    await until(() => changes.size === 1);
    changes.notify('job');
    changes.notify('other-job');
    expect(await waiting).to.equal(1);
    expect(reads).to.be.at.least(2); // the one right after subscribing, the notified one, and one at the end
    expect(changes.size).to.equal(0);
  });

  it('sees a change nobody notified (another instance\'s write) at the next recheck', async () => {
    waits.recheckMs = 50;
    const store = { version: 1 };
    const waiting = waiter(store);
    await until(() => changes.size === 1);
    store.version = 2;
    expect(await waiting).to.equal(2);
  });

  it('stops waiting, and listening, when the client goes away', async () => {
    const waiting = waiter({ version: 1 });
    await until(() => changes.size === 1);
    const listening = res.listenerCount('close');
    socket.destroy();
    expect(await waiting).to.equal(1);
    expect(changes.size).to.equal(0);
    expect(res.listenerCount('close')).to.equal(listening - 1);
  });

  it('answers at once with the status as it is on shutdown, and does not wait once shutdown began', async () => {
    const waiting = waiter({ version: 1 });
    await until(() => changes.size === 1);
    changes.wakeAll();
    expect(await waiting).to.equal(1);
    expect(changes.size).to.equal(0);
    const started = Date.now();
    expect(await waiter({ version: 1 })).to.equal(1);
    expect(Date.now() - started).to.be.below(5_000);
  });

  it('does not wait beyond maxWaiters', async () => {
    waits.maxWaiters = 1;
    const first = waiter({ version: 1 });
    await until(() => changes.size === 1);
    expect(await waiter({ version: 1 }, 60_000)).to.equal(1);
    expect(changes.size).to.equal(1);
    changes.wakeAll();
    await first;
  });

  it('answers undefined when the job disappears while waiting', async () => {
    let deleted = false;
    const waiting = waitForChange(waits, {
      id: 'job', initial: 1, timeoutMs: 10_000, res, changed: (v) => v !== 1,
      read: () => Promise.resolve(deleted ? undefined : 1),
    });
    await until(() => changes.size === 1);
    deleted = true;
    changes.notify('job');
    expect(await waiting).to.equal(undefined);
  });
});
