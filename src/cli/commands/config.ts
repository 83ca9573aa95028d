import { redactConfig } from '../../config/redact.js';
import { COMMON_HELP, configFrom, parse, UsageError } from '../args.js';

export const CONFIG_HELP = `gatehouse config check: validate the configuration without starting

Usage:
  gatehouse config check [--config FILE] [--json]

Reads the file, GATEHOUSE_* environment variables and defaults exactly as \`serve\` would, reports
every problem by field name, and exits 0 when the configuration is valid (1 otherwise).
Options:
  --json             print the effective configuration as JSON when valid
${COMMON_HELP}`;

export async function configCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(CONFIG_HELP);
    return sub ? 0 : 2;
  }
  if (sub !== 'check') throw new UsageError(`unknown config subcommand "${sub}" (try: gatehouse config check)`);
  const { values } = parse(argv.slice(1), { json: { type: 'boolean' } }, 0, 'gatehouse config check');
  if (values.help) {
    console.log(CONFIG_HELP);
    return 0;
  }
  const { config, file } = configFrom(values);
  if (values.json) console.log(JSON.stringify(redactConfig(config), null, 2));
  else console.log(`configuration OK${file ? ` (${file})` : ' (defaults and environment; no config file)'}`);
  return 0;
}
