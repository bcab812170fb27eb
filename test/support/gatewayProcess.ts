// The gateway as a separate process (npm start's command), for tests that kill it with SIGKILL
// and start it again on the same data directory.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { spawnGateway } from './gatewayLauncher.ts';
import { testDatabaseFor } from './postgres.ts';

export interface GatewayProcess {
  child: ChildProcess;
  base: string;
  url: (pathname: string) => string;
  /** Resolves with the signal or exit code the process ended with. */
  exited: Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<string>;
  log(): string;
}

export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  // With CAESAR_TEST_DATABASE=postgres: the data directory's own PostgreSQL database.
  const dataDir = env.CAESAR_GATEWAY_DATA_DIR;
  const database = dataDir && !env.CAESAR_GATEWAY_DATABASE_URL ? await testDatabaseFor(dataDir) : undefined;
  const child = spawnGateway(
    {
      ...process.env, PORT: '0', HOST: '127.0.0.1', CAESAR_GATEWAY_POLL_SCHEDULE: '* * * * * *', CAESAR_GATEWAY_LOG_LEVEL: 'info',
      ...(database ? { CAESAR_GATEWAY_DATABASE_URL: database.url } : {}), ...env,
    },
    ['ignore', 'pipe', 'pipe'],
  );
  let output = '';
  const exited = once(child, 'exit').then(([code, signal]) => String(signal ?? code));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /"port":(\d+)[^\n]*listening/.exec(output);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    void exited.then((how) => reject(new Error(`gateway exited (${how}) before listening:\n${output}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    child, base, exited,
    url: (pathname) => `${base}/caesar/api/v1.0${pathname}`,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    log: () => output,
  };
}
