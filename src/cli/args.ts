import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, type Loaded } from '../config/load.js';

/** Flags every subcommand takes, so the CLI and a running server share one store. */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const COMMON_HELP = `  --config FILE      config file (default: $GATEHOUSE_CONFIG, else ./gatehouse.yaml if present)
  --data-dir DIR     data directory (default: ~/.gatehouse; env GATEHOUSE_DATA_DIR)
  -h, --help         show this help`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
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
