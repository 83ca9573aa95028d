// Foreground runner for manual demos:
//   node dist/test/emulator/main.js [--port 11434] [--chunks N] [--delay MS]
// Prints the URL, then serves until Ctrl-C.
import { startEmulator } from './emulator.js';

function usage(message?: string): never {
  if (message) console.error(message);
  console.error('usage: node dist/test/emulator/main.js [--port 11434] [--chunks N] [--delay MS]');
  process.exit(2);
}

function parseArgs(argv: string[]): { port: number; chunks?: number; chunkDelayMs?: number } {
  const out: { port: number; chunks?: number; chunkDelayMs?: number } = { port: 11434 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') usage();
    const value = argv[++i];
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 0) usage(`${flag} needs a non-negative integer`);
    if (flag === '--port') out.port = n;
    else if (flag === '--chunks') out.chunks = n;
    else if (flag === '--delay') out.chunkDelayMs = n;
    else usage(`unknown option ${flag}`);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const emulator = await startEmulator({
  port: args.port,
  ...(args.chunks !== undefined ? { chunks: args.chunks } : {}),
  ...(args.chunkDelayMs !== undefined ? { chunkDelayMs: args.chunkDelayMs } : {}),
});
console.log(`Ollama emulator listening on ${emulator.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void emulator.close().then(() => process.exit(0));
  });
}
