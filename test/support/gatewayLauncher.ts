// How tests and benchmarks start the gateway as a process: the way it is deployed
// (scripts/start-gateway.sh, which sets the process settings and execs node), with the node that
// runs them.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** `env` is the whole environment of the gateway (merge process.env into it yourself). */
export function spawnGateway(env: NodeJS.ProcessEnv, stdio: StdioOptions): ChildProcess {
  return spawn('sh', ['scripts/start-gateway.sh'], { cwd: projectRoot, env: { ...env, NODE: process.execPath }, stdio });
}
