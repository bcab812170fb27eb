import { expect } from 'chai';
import { JobChanges } from '../../../src/jobs/jobChanges.ts';

describe('JobChanges', () => {
  it('calls the listeners of the job notified, and only those', () => {
    const changes = new JobChanges();
    const heard: string[] = [];
    changes.subscribe('a', () => heard.push('a1'));
    changes.subscribe('a', () => heard.push('a2'));
    changes.subscribe('b', () => heard.push('b'));
    changes.notify('a');
    expect(heard).to.deep.equal(['a1', 'a2']);
    changes.notify('c');
    expect(heard).to.have.length(2);
  });

  it('stops calling a listener once unsubscribed, and forgets a job with no listener left', () => {
    const changes = new JobChanges();
    let calls = 0;
    const stop = changes.subscribe('a', () => { calls += 1; });
    changes.notify('a');
    stop();
    stop(); // twice is harmless, and does not unsubscribe someone else
    changes.notify('a');
    expect(calls).to.equal(1);
    expect(changes.size).to.equal(0);
    expect(changes.jobsWatched).to.equal(0);
  });

  it('counts the same function subscribed twice as two listeners, each removed by its own unsubscribe', () => {
    const changes = new JobChanges();
    let calls = 0;
    const listener = () => { calls += 1; };
    const first = changes.subscribe('a', listener);
    const second = changes.subscribe('a', listener);
    changes.notify('a');
    expect(calls).to.equal(2);
    first();
    changes.notify('a');
    expect(calls).to.equal(3);
    second();
    expect(changes.size).to.equal(0);
    expect(changes.jobsWatched).to.equal(0);
  });

  it('lets a listener unsubscribe itself while being notified, without skipping the others', () => {
    const changes = new JobChanges();
    const heard: string[] = [];
    const stop = changes.subscribe('a', () => { heard.push('first'); stop(); });
    changes.subscribe('a', () => heard.push('second'));
    changes.notify('a');
    changes.notify('a');
    expect(heard).to.deep.equal(['first', 'second', 'second']);
    expect(changes.size).to.equal(1);
  });

  it('wakeAll calls every listener of every job and says that shutdown has begun', () => {
    const changes = new JobChanges();
    const heard: string[] = [];
    const stops = ['a', 'b', 'b'].map((id, i) => changes.subscribe(id, () => heard.push(`${id}${i}`)));
    expect(changes.shuttingDown).to.equal(false);
    changes.wakeAll();
    expect(heard).to.deep.equal(['a0', 'b1', 'b2']);
    expect(changes.shuttingDown).to.equal(true);
    for (const stop of stops) stop();
    expect(changes.size).to.equal(0);
    expect(changes.jobsWatched).to.equal(0);
  });

  it('leaves nothing behind after many subscribe/unsubscribe rounds', () => {
    const changes = new JobChanges();
    for (let i = 0; i < 1000; i += 1) {
      const stops = [changes.subscribe(`job-${i % 7}`, () => undefined), changes.subscribe(`job-${i % 3}`, () => undefined)];
      changes.notify(`job-${i % 7}`);
      for (const stop of stops) stop();
    }
    expect(changes.size).to.equal(0);
    expect(changes.jobsWatched).to.equal(0);
  });
});
