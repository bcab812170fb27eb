// Entry point: `npm start`. Reads the configuration once, builds the gateway, and shuts down
// cleanly on SIGTERM/SIGINT (stop accepting, finish in-flight work, close SSH and the database).
import v8 from 'node:v8';
import { ConfigError, loadConfig } from './config.ts';
import { buildGateway } from './gateway.ts';
import { createLogger } from './logger.ts';

// Let the old generation grow to 4× what survived the last full collection before the next one.
// Every socket read of an upload is a fresh 64 KiB ArrayBuffer, and V8 counts those bytes against
// the old generation's limit: with the factor V8 chose here (about 2×, ~23 MB live) the gateway
// ran a full mark-compact every ~28 MB received — 74 per 2 GiB upload, 6-7 CPU-seconds on V8's
// helper threads, on a 2-core machine — and took uploads at 235-377 MiB/s. With 4×: 0-1 full
// collections per 2 GiB and 429-536 MiB/s (bench/upload.ts's upload, 2026-12-01). The price is
// at most 3× the live heap held as garbage between full collections, ~70 MB at today's size.
// V8 reads this flag at every collection, so setting it here, before any request, covers the run.
v8.setFlagsFromString('--heap-growing-percent=300');

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
  if (!mallocTrimThresholdSet()) {
    logger.warn('started without scripts/start-gateway.sh: glibc\'s malloc trim threshold is at its default, and uploads take about twice the CPU (start the gateway with `npm start` or that script)');
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

/** False only on glibc without the trim threshold scripts/start-gateway.sh sets (other C
 *  libraries have no such setting). */
function mallocTrimThresholdSet(): boolean {
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  if (!header?.glibcVersionRuntime) return true;
  return /(^|:)glibc\.malloc\.trim_threshold=/.test(process.env.GLIBC_TUNABLES ?? '');
}

await main();
