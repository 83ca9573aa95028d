import { ConfigError } from '../config/load.js';
import { UsageError } from './args.js';
import { CONFIG_HELP, configCommand } from './commands/config.js';
import { KEYS_HELP, keysCommand } from './commands/keys.js';
import { SERVE_HELP, serveCommand } from './commands/serve.js';

export const MAIN_HELP = `gatehouse: an authenticating gateway in front of Ollama

Usage:
  gatehouse serve [--config FILE] [--listen HOST:PORT] [--upstream URL] [--data-dir DIR]
  gatehouse keys create|add-ssh|list|show|update|revoke ...
  gatehouse config check [--config FILE]

Run \`gatehouse <command> --help\` for a command's options.
Quick start: \`gatehouse serve\` (Ollama on 127.0.0.1:11434; Gatehouse on 127.0.0.1:11435), then
\`gatehouse keys create --name me\` and send the key as "Authorization: Bearer <key>".`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  serve: { run: serveCommand, help: SERVE_HELP },
  keys: { run: keysCommand, help: KEYS_HELP },
  config: { run: configCommand, help: CONFIG_HELP },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(MAIN_HELP);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    console.log(process.env.npm_package_version ?? '0.1.0');
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`gatehouse: unknown command "${name}"\n\n${MAIN_HELP}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`gatehouse ${name}: ${err.message}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    console.error(`gatehouse ${name}: ${(err as Error).message}`);
    return 1;
  }
}
