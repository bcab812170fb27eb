// Entry point: `npm start`. Reads the configuration once, builds the gateway, and shuts down
// cleanly on SIGTERM/SIGINT (stop accepting, finish in-flight work, close SSH and the database).
import { ConfigError, loadConfig } from './config.ts';
import { buildGateway } from './gateway.ts';
import { createLogger } from './logger.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`caesar-gateway: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const gateway = await buildGateway(config, logger);
  const server = await gateway.listen();
  const address = server.address();
  logger.info({
    port: typeof address === 'object' && address ? address.port : config.port,
    clusters: config.clusters.map((c) => `${c.name} (${c.user}@${c.host}:${c.port})`),
    dataDir: config.dataDir,
    auth: config.auth.mode,
  }, 'caesar-gateway listening');
  if (config.auth.mode === 'anonymous') {
    logger.warn('single-user mode: no authentication, every request acts as the anonymous user (set auth.mode "tokens" to require bearer tokens)');
  }
  let stopping = false;
  // pino writes asynchronously: flush before exiting so the last lines are neither lost nor reordered.
  const exit = (code: number) => logger.flush(() => process.exit(code));
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal: the operator does not want to wait for requests in flight.
      logger.warn({ signal }, 'second signal: exiting without waiting');
      exit(1);
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.stop().then(() => {
      logger.info('caesar-gateway stopped');
      exit(0);
    }, (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
