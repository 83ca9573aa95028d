import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, SYSTEM_CONFIG, type Loaded } from '../config/load.js';

/** Flags every subcommand takes, so the CLI and a running server share one store. */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const COMMON_HELP = `  --config FILE      config file (default: $GATEHOUSE_CONFIG, else the first of ./gatehouse.yaml and
                     ${SYSTEM_CONFIG} that exists: the one the systemd unit uses)
  --data-dir DIR     data directory (default: data_dir from the config, else ~/.gatehouse; env GATEHOUSE_DATA_DIR)
  -h, --help         show this help`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's flags (plus the common ones). Unknown flags are refused with the nearest
 * known one ("did you mean --name?"); more than `maxPositionals` arguments are refused rather than
 * ignored (`gatehouse serve now` must not quietly start a server).
 */
export function parse<O extends Options>(argv: string[], options: O, maxPositionals = 0, usage = '') {
  const all = { ...COMMON_OPTIONS, ...options };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: all, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(explainParseError(err as Error & { code?: string }, all, usage));
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals]!;
    throw new UsageError(`unexpected argument "${extra}"${usage ? ` (see ${usage} --help)` : ''}`);
  }
  return parsed;
}

function explainParseError(err: Error & { code?: string }, options: Options, usage: string): string {
  const see = usage ? ` (see ${usage} --help)` : '';
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(err.message)?.[1] ?? '';
    const guess = nearestOption(flag, options);
    return `unknown option ${flag}${guess ? `: did you mean ${guess}?` : ''}${see}`;
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const m = /'(-[^' ]+)(?: <value>)?'/.exec(err.message);
    if (m && /argument missing/.test(err.message)) return `${m[1]} needs a value${see}`;
    if (m && /does not take an argument/.test(err.message)) return `${m[1]} takes no value${see}`;
  }
  return `${err.message}${see}`;
}

/** The known flag closest to what was typed (edit distance), when it is close enough to be a typo. */
export function nearestOption(typed: string, options: Options): string | null {
  const word = typed.replace(/^-+/, '').split('=')[0]!.toLowerCase();
  // The start of exactly one flag (--conc → --concurrency) is the surest guess.
  const prefixed = word.length >= 2 ? Object.keys(options).filter((name) => name.startsWith(word)) : [];
  if (prefixed.length === 1) return `--${prefixed[0]}`;
  let best: string | null = null;
  let bestD = Infinity;
  for (const name of Object.keys(options)) {
    const d = distance(word, name);
    if (d < bestD) {
      best = name;
      bestD = d;
    }
  }
  if (best === null) return null;
  // One or two letters are too little to guess from.
  const close = word.length >= 3 && bestD <= Math.max(2, Math.floor(best.length / 3));
  return close ? `--${best}` : null;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * Loads and validates config with the common flags (and any extra flag→key overrides). Warnings
 * go to stderr unless the caller reports them itself (`serve` logs them).
 */
export function configFrom(values: Record<string, unknown>, extra: Record<string, unknown> = {}, printWarnings = true): Loaded {
  const loaded = loadConfig({
    configPath: values.config as string | undefined,
    flags: { data_dir: values['data-dir'], ...extra },
  });
  if (printWarnings) for (const w of loaded.warnings) console.error(`warning: ${w}`);
  return loaded;
}

export { ConfigError };
