// One simulated Ollama node as a process of its own, for fleet benchmarks (bench/fleet.ts) and
// manual experiments with a router in front of several nodes:
//
//   node dist/test/emulator/fleet-main.js [--port 0] [--models m1,m2,m3] [--chunks N] [--delay MS]
//       [--parallel N] [--max-loaded N] [--load-ms MS] [--max-queue N] [--keep-alive-ms MS]
//
// Any of --parallel/--max-loaded/--load-ms turns fleet mode on (defaults 1, 1, 0, as Ollama's
// OLLAMA_NUM_PARALLEL=1 and one GPU's worth of room for one model); EMULATOR_FLEET='{"parallel":2,
// "maxLoaded":1,"loadMs":500}' does the same (flags win). Listens on 127.0.0.1 only.
// stdout, one JSON object per line: {"url","pid"} once listening; {"stats":{...}} (EmulatorStats)
// on SIGUSR2, and once more on SIGTERM/SIGINT just before it exits.
import { startEmulator } from './emulator.js';
import type { EmulatorOptions, FleetOptions } from './types.js';

const USAGE =
  'usage: node dist/test/emulator/fleet-main.js [--port 0] [--models a,b] [--chunks N] [--delay MS] ' +
  '[--parallel N] [--max-loaded N] [--load-ms MS] [--max-queue N] [--keep-alive-ms MS]   (or EMULATOR_FLEET=<json>)';

function usage(message?: string): never {
  if (message) console.error(message);
  console.error(USAGE);
  process.exit(2);
}

const FLEET_FLAGS: Record<string, keyof FleetOptions> = {
  '--parallel': 'parallel',
  '--max-loaded': 'maxLoaded',
  '--load-ms': 'loadMs',
  '--max-queue': 'maxQueue',
  '--keep-alive-ms': 'keepAliveMs',
};

export function parseFleetArgs(argv: readonly string[], envJson: string | undefined): EmulatorOptions {
  const out: EmulatorOptions = { port: 0 };
  let fleet: Partial<FleetOptions> | undefined;
  if (envJson) {
    try {
      fleet = JSON.parse(envJson) as Partial<FleetOptions>;
    } catch (e) {
      throw new Error(`EMULATOR_FLEET is not JSON: ${(e as Error).message}`);
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--models') {
      out.models = value.split(',').map((m) => m.trim()).filter(Boolean);
      continue;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer`);
    if (flag === '--port') out.port = n;
    else if (flag === '--chunks') out.chunks = n;
    else if (flag === '--delay') out.chunkDelayMs = n;
    else if (FLEET_FLAGS[flag]) fleet = { ...fleet, [FLEET_FLAGS[flag]]: n };
    else throw new Error(`unknown option ${flag}`);
  }
  if (fleet) out.fleet = { parallel: 1, maxLoaded: 1, loadMs: 0, ...fleet };
  return out;
}

const isMain = process.argv[1]?.endsWith('fleet-main.js');
if (isMain) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) usage();
  let opts: EmulatorOptions;
  try {
    opts = parseFleetArgs(process.argv.slice(2), process.env.EMULATOR_FLEET);
  } catch (e) {
    usage((e as Error).message);
  }
  const emulator = await startEmulator({ ...opts, host: '127.0.0.1' });
  console.log(JSON.stringify({ url: emulator.url, pid: process.pid, fleet: opts.fleet ?? null, models: opts.models ?? null }));
  const printStats = (): void => void console.log(JSON.stringify({ stats: emulator.stats() }));
  process.on('SIGUSR2', printStats);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      printStats();
      void emulator.close().then(() => process.exit(0));
    });
  }
}
