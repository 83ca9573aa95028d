// Starts the Ollama emulator on HOST (and PORT, default ephemeral) and prints its URL; serves until
// SIGTERM. For doctor tests that run the emulator inside a network namespace they created:
//   ip netns exec NS node dist/test/doctor/emulator-at.js 0.0.0.0
import { startEmulator } from '../emulator/index.js';

const host = process.argv[2] ?? '127.0.0.1';
const port = Number(process.argv[3] ?? 0);
const emu = await startEmulator({ host, port });
console.log(emu.url);
process.once('SIGTERM', () => void emu.close().then(() => process.exit(0)));
