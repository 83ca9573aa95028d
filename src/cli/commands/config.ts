import { redactConfig } from '../../config/redact.js';
import { COMMON_HELP, configFrom, parse, UsageError } from '../args.js';

export const CONFIG_HELP = `gatehouse config: check the configuration, or print its JSON Schema

Usage:
  gatehouse config check [--config FILE] [--json]
  gatehouse config schema

check   Reads the file, GATEHOUSE_* environment variables and defaults exactly as \`serve\` would,
        reports every problem by field name, and exits 0 when the configuration is valid (1
        otherwise). --json prints the effective configuration as JSON when valid.
schema  Prints a JSON Schema (draft-07) of gatehouse.yaml for editors, e.g.
          gatehouse config schema > gatehouse.schema.json
        and as the first line of gatehouse.yaml (YAML language server, VS Code YAML extension):
          # yaml-language-server: $schema=./gatehouse.schema.json
Options (check):
  --json             print the effective configuration as JSON when valid
${COMMON_HELP}`;

export async function configCommand(argv: string[]): Promise<number> {
  const sub = argv[0];
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(CONFIG_HELP);
    return sub ? 0 : 2;
  }
  if (sub === 'schema') return schema(argv.slice(1));
  if (sub !== 'check') throw new UsageError(`unknown config subcommand "${sub}" (try: gatehouse config check, gatehouse config schema)`);
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

async function schema(argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    console.log(CONFIG_HELP);
    return 0;
  }
  if (argv.length > 0) throw new UsageError(`config schema takes no arguments (got "${argv[0]}")`);
  const { configJsonSchema } = await import('../../config/json-schema.js');
  console.log(JSON.stringify(configJsonSchema(), null, 2));
  return 0;
}
