// Ollama emulator for the test suites: a faithful stand-in for the Ollama HTTP API described in
// docs/ollama-api-notes.md (routes, NDJSON/SSE framing, Go-style body decoding, Host check, errors),
// with request recording, token accounting and fault injection. Listens on 127.0.0.1 only.
export { startEmulator } from './emulator.js';
export { DEFAULT_MODELS } from './types.js';
export type { Emulator, EmulatorOptions, EmulatorStats, Fault, FleetOptions, RecordedRequest } from './types.js';
export { MAX_QUEUE_ERROR } from './scheduler.js';
