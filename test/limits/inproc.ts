import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '../../src/auth/api-key.js';
import type { Clock } from '../../src/core/clock.js';
import { newKeyId } from '../../src/core/ids.js';
import type { PrincipalLimits } from '../../src/core/types.js';
import { ConfigSchema, type ConfigInput } from '../../src/config/schema.js';
import { createLimiter } from '../../src/limits/index.js';
import type { GatewayLimiter } from '../../src/limits/limiter.js';
import { startGateway, type RunningGateway } from '../../src/server/app.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../emulator/index.js';
import { silent } from './helpers.js';

/**
 * A real gateway (real HTTP, real proxying to the emulator) in this process, on an injected
 * clock, with the limiter in reach: token counts can then be compared exactly with what the
 * emulator sent, with no refill in between.
 */
export interface InProc {
  gw: RunningGateway;
  emu: Emulator;
  limiter: GatewayLimiter;
  createKey(name: string, limits?: Partial<PrincipalLimits>): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

export async function startInProc(clock: Clock, config: ConfigInput = {}, emulator?: EmulatorOptions): Promise<InProc> {
  const emu = await startEmulator(emulator);
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-limits-'));
  // No metrics listener unless a test asks: a fixed port shared by gateways running side by side
  // would stop all but one from starting (a listener that cannot open is a start-up error).
  const cfg = ConfigSchema.parse({ listen: '127.0.0.1:0', upstream: emu.url, data_dir: dataDir, log: { level: 'silent' }, metrics: { listen: 'off' }, ...config });
  const limiter = await createLimiter(cfg, { clock, log: silent });
  const gw = await startGateway({ config: cfg, log: silent, clock, limiter });
  return {
    gw, emu, limiter,
    async createKey(name, limits = {}) {
      const k = generateApiKey();
      const rec = await gw.stores.keys.create(
        {
          id: newKeyId(), name, kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null,
          scopes: ['inference', 'models:read'], models: null,
          limits: { rpm: null, tpm: null, tpd: null, concurrency: null, ...limits }, clamps: {}, expiresAt: null,
        } as Parameters<typeof gw.stores.keys.create>[0],
        { actor: 'test' },
      );
      await gw.keys.refresh();
      return { id: rec.id, key: k.key };
    },
    async close() {
      await gw.close(1000);
      await emu.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

/** POSTs JSON with a key and reads the whole answer. */
export async function post(base: string, path: string, key: string, body: unknown, signal?: AbortSignal): Promise<Reply> {
  const res = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** POSTs, reads `n` chunks of the streamed answer, then aborts the request. Returns the chunks. */
export async function postAndAbort(base: string, path: string, key: string, body: unknown, n: number): Promise<string[]> {
  const ac = new AbortController();
  const res = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: ac.signal });
  const reader = res.body!.getReader();
  const chunks: string[] = [];
  const dec = new TextDecoder();
  while (chunks.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(dec.decode(value));
  }
  ac.abort();
  await reader.cancel().catch(() => {});
  return chunks;
}
