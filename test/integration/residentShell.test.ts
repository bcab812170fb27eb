// The resident shell against the real sshd: output split by the markers, isolation between
// commands, and recovery after a timeout or a killed shell.
import { expect } from 'chai';
import { RemoteInterruptedError, RemoteTimeoutError } from '../../src/remote/errors.ts';
import { NOT_RUN_STATUS, ResidentShell } from '../../src/remote/residentShell.ts';
import type { SshConnection } from '../../src/remote/sshConnection.ts';
import { remoteScript } from '../../src/scheduler/slurm/commands.ts';
import { asClusterUser, clusterSshConnection, connection } from '../support/cluster.ts';

const options = { timeoutMs: 10_000 };

describe('ResidentShell on the local cluster', function () {
  this.timeout(60_000);
  let ssh: SshConnection;
  let shell: ResidentShell;

  before(() => {
    ssh = clusterSshConnection('resident-test');
    shell = new ResidentShell('resident-test', () => ssh.openResidentChannel(remoteScript('exec /bin/sh -s')));
  });
  after(async () => {
    shell.close();
    await ssh.close();
  });

  const shellPid = async () => (await shell.run('echo $$', options)).stdout.trim();

  it('returns each command\'s stdout, stderr and exit status, and outlives an exit', async () => {
    const pid = await shellPid();
    const result = await shell.run('echo out; echo err >&2; exit 3', options);
    expect(result).to.deep.include({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(await shellPid()).to.equal(pid);
    expect((await shell.run('printf abc', options)).stdout).to.equal('abc');
  });

  it('runs every command in its own subshell with no stdin, under the hermetic prelude', async () => {
    await shell.run('cd /tmp; LEAK=1; export LEAK', options);
    const after = await shell.run('pwd; echo "${LEAK:-none}"; cat; echo "$LC_ALL $SLURM_TIME_FORMAT"', options);
    expect(after.stdout.split('\n')).to.deep.equal([`/home/${connection().user}`, 'none', 'C %s', '']);
  });

  it('answers concurrent callers one after another, each with its own output', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => shell.run(`sleep 0.0${i}; echo ${i}`, options)));
    expect(results.map((r) => r.stdout)).to.deep.equal(['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
  });

  it('gives up on a command past its timeout and starts a new shell for the next', async () => {
    const pid = await shellPid();
    let error: unknown;
    await shell.run('sleep 5', { timeoutMs: 300 }).catch((err: unknown) => { error = err; });
    expect(error).to.be.instanceOf(RemoteTimeoutError);
    const next = await shellPid();
    expect(next).to.match(/^\d+$/);
    expect(next).not.to.equal(pid);
  });

  it('reports a command as interrupted when its shell dies, then recovers', async () => {
    const pid = await shellPid();
    // The failure may come before the kill's own command returns: caught from the start.
    const running = shell.run('sleep 20', options).then(() => undefined, (err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await asClusterUser(`kill -9 ${pid}`);
    expect(await running).to.be.instanceOf(RemoteInterruptedError);
    expect((await shell.run('echo again', options)).stdout).to.equal('again\n');
  });

  it('writes a command without waiting for the answers before it', async () => {
    // The second command's clock starts when it is written: it runs out while the first is still
    // sleeping, which it could not if it were written only after the first one's answer.
    const first = shell.run('sleep 2; echo first', { timeoutMs: 10_000 }).then(() => undefined, (err: unknown) => err);
    const second = shell.run('echo second', { timeoutMs: 300 }).then(() => undefined, (err: unknown) => err);
    expect(await second).to.be.instanceOf(RemoteTimeoutError);
    // Abandoning the shell for the second one leaves the first one's outcome unknown.
    expect(await first).to.be.instanceOf(RemoteInterruptedError);
    expect((await shell.run('echo next', options)).stdout).to.equal('next\n');
  });

  it('splits answers that arrive together, including output right behind a marker', async () => {
    const results = await Promise.all(['printf a', 'printf b >&2; exit 4', 'printf c', 'true'].map((cmd) => shell.run(cmd, options)));
    expect(results.map((r) => [r.stdout, r.stderr, r.code])).to.deep.equal([['a', '', 0], ['', 'b', 4], ['c', '', 0], ['', '', 0]]);
  });

  it('runs an onlyIf command only after its kept command succeeded in the same shell, once', async () => {
    await shell.run('exit 3', { ...options, keepStatusAs: 'failed_step' });
    const skipped = await shell.run('echo ran', { ...options, onlyIf: 'failed_step' });
    expect(skipped).to.deep.include({ code: NOT_RUN_STATUS, stdout: '' });

    await shell.run('true', { ...options, keepStatusAs: 'good_step' });
    expect(await shell.run('echo ran', { ...options, onlyIf: 'good_step' })).to.deep.include({ code: 0, stdout: 'ran\n' });
    // Used up: a second command on the same status does not run.
    expect((await shell.run('echo again', { ...options, onlyIf: 'good_step' })).code).to.equal(NOT_RUN_STATUS);
    expect((await shell.run('echo never', { ...options, onlyIf: 'never_kept' })).code).to.equal(NOT_RUN_STATUS);
  });

  it('does not run an onlyIf command in a new shell when the kept status was in the old one', async () => {
    await shell.run('true', { ...options, keepStatusAs: 'before_restart' });
    await shell.run('sleep 5', { timeoutMs: 200 }).catch(() => undefined); // the shell is replaced
    expect((await shell.run('echo ran', { ...options, onlyIf: 'before_restart' })).code).to.equal(NOT_RUN_STATUS);
  });

  it('refuses a status name that is not a plain shell word', () => {
    expect(() => shell.run('true', { ...options, keepStatusAs: 'x; rm -rf /' })).to.throw(/invalid status name/);
    expect(() => shell.run('true', { ...options, onlyIf: '$(id)' })).to.throw(/invalid status name/);
  });

  it('abandons a command whose output passes the limit', async () => {
    let error: unknown;
    await shell.run('head -c 100000 /dev/zero', { timeoutMs: 10_000, maxOutputBytes: 10_000 }).catch((err: unknown) => { error = err; });
    expect(error).to.be.instanceOf(RemoteInterruptedError);
    expect((error as Error).message).to.match(/more than 10000 bytes/);
    expect((await shell.run('echo fine', options)).stdout).to.equal('fine\n');
  });
});
