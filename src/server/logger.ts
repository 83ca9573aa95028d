import pino, { type Logger } from 'pino';
import type { Config } from '../config/schema.js';

/**
 * Structured JSON logs (pino); human-readable when stdout is a terminal (or log.format: pretty).
 * Redaction is a second line of defence: nothing logs credentials on purpose, and these paths are
 * censored if anything ever tries.
 */
export function createLogger(cfg: Config['log'], dest: NodeJS.WritableStream = process.stdout): Logger {
  const pretty = cfg.format === 'pretty' || (cfg.format === 'auto' && (dest as { isTTY?: boolean }).isTTY === true);
  const redact = {
    paths: ['key', '*.key', 'authorization', '*.authorization', 'headers.authorization', 'headers["x-api-key"]', 'req.headers.authorization', 'req.headers["x-api-key"]', 'token', '*.token'],
    censor: '[redacted]',
  };
  if (pretty) {
    return pino({ level: cfg.level, redact, base: null }, pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }));
  }
  const out = dest === process.stdout ? pino.destination({ dest: 1, sync: false }) : dest;
  return pino({ level: cfg.level, redact, base: { service: 'gatehouse' } }, out);
}
