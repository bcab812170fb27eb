// Structured JSON logs. Secrets never reach them: key material and tokens are redacted by path.
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'caesar-gateway' },
    redact: { paths: ['privateKey', '*.privateKey', 'authorization', '*.authorization', 'token', '*.token'], censor: '[redacted]' },
  });
}
