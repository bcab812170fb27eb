// Structured JSON logs. Secrets never reach them: key material and tokens are redacted by path.
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'caesar-gateway' },
    redact: { paths: ['privateKey', '*.privateKey', 'authorization', '*.authorization', 'token', '*.token'], censor: '[redacted]' },
  // Synchronous: each line is written before the call returns, so lines keep their order and
  // none is lost at exit (the asynchronous default once wrote a shutdown's last two lines out
  // of order). Routine reads log at debug, so the cost is a write per request that matters.
  }, pino.destination({ dest: 1, sync: true }));
}
