// The pooled SSH connection against the real sshd, with the gateway's event loop kept busy (as
// during a burst of requests). A fast command's replies — the exec request's success, its
// output, its exit status and the channel's close — then arrive in one read and are parsed in
// one go. The exit status must not be missed: a command that ran to the end and is reported
// as "connection lost" makes the submitter wait ~35 s to reconcile a job it never submitted.
import { expect } from 'chai';
import type { SshConnection } from '../../src/remote/sshConnection.ts';
import { clusterSshConnection } from '../support/cluster.ts';

/** Blocks the event loop for `ms` at every turn, so socket reads pile up between turns. */
function keepEventLoopBusy(ms: number): () => void {
  const timer = setInterval(() => {
    const until = Date.now() + ms;
    while (Date.now() < until) { /* busy: the point is to hold the loop */ }
  }, 1);
  return () => clearInterval(timer);
}

describe('SshConnection on the local cluster', function () {
  this.timeout(120_000);
  let ssh: SshConnection;

  before(() => {
    // 4 channels, well under sshd's MaxSessions 10: with the loop this busy, sshd may not yet
    // have freed the sessions the client already saw close, and this test is not about that.
    ssh = clusterSshConnection('ssh-test', 4);
  });
  after(async () => ssh.close());

  it('reports the exit status and output of every fast command while the event loop is busy', async () => {
    const stop = keepEventLoopBusy(20);
    try {
      const runs = Array.from({ length: 60 }, (_, i) =>
        ssh.exec(`echo ${i}; exit ${i % 5}`, { timeoutMs: 30_000 }).then(
          (r) => `${r.code}:${r.stdout.trim()}`,
          (err: Error) => `error: ${err.message}`,
        ));
      const results = await Promise.all(runs);
      expect(results).to.deep.equal(Array.from({ length: 60 }, (_, i) => `${i % 5}:${i}`));
    } finally {
      stop();
    }
  });
});
