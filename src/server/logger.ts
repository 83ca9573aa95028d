import pino, { type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../config/schema.js';

/**
 * Structured JSON logs (pino); human-readable when stdout is a terminal (or log.format: pretty).
 * JSON lines carry ISO-8601 UTC times and level names ("time":"2026-12-04T10:00:00.000Z",
 * "level":"info") rather than pino's epoch milliseconds and numbers: an operator reading a line,
 * and most log shippers, understand those without a lookup table.
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
    // pino-pretty formats times (local clock) and level names itself; one line per event keeps
    // the access log scannable on a terminal.
    return pino({ level: cfg.level, redact, base: null }, pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } }));
  }
  const out = dest === process.stdout ? pino.destination({ dest: 1, sync: false }) : dest;
  return pino({ level: cfg.level, redact, base: { service: 'gatehouse' }, ...JSON_FORMAT }, out);
}

/** ISO-8601 times and level names in JSON lines. */
export const JSON_FORMAT: Pick<LoggerOptions, 'timestamp' | 'formatters'> = {
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
};
