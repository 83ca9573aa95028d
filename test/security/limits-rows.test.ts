import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authenticateApiKey } from '../../src/auth/authenticate.js';
import { generateApiKey } from '../../src/auth/api-key.js';
import { KeyCache } from '../../src/auth/key-cache.js';
import { systemClock } from '../../src/core/clock.js';
import type { KeyRecord, KeyStore } from '../../src/store/types.js';
import { cli, settle, startStack, type Stack } from '../helpers/stack.js';
import { hit, openStream, sleep } from './support.js';

/**
 * docs/threat-model.md G1–G8 from an attacker's side: limits that hold under a burst, count streamed
 * tokens, keep concurrency permits until the stream ends, bound the queue, refuse unknown config,
 * and keep authenticating while the key store is down. (The limiter's own suites in test/limits
 * cover the mechanics in depth; these are the regression tests named after the threat rows.)
 */

const chatBody = (stream = false) => JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hello there' }], stream });

describe('threats G1/G3/G4/G5: limits that limit', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      emulator: { chunkDelayMs: 40, chunks: 10 },
      config: { metrics: { listen: 'off' }, limits: { auth_failures: { max: 0 }, queue: { max_size: 1, max_per_principal: 1, max_wait: '300ms' } } },
    });
  });
  after(() => s.close());

  it('G1: a burst of 30 concurrent requests against rpm=5 admits exactly 5; the rest get 429 with Retry-After', async () => {
    const k = (await s.createKey('rpm5', ['--scopes', 'inference,models:read', '--rpm', '5'])).key;
    s.emu.reset();
    const replies = await Promise.all(Array.from({ length: 30 }, () => hit(s.gw.url, 'GET', '/api/version', { headers: { authorization: `Bearer ${k}` } })));
    assert.equal(replies.filter((r) => r.status === 200).length, 5);
    const limited = replies.filter((r) => r.status === 429);
    assert.equal(limited.length, 25);
    assert.ok(limited.every((r) => Number(r.headers['retry-after']) >= 1));
    assert.equal(s.emu.requests.length, 5);
  });

  it('G3: with concurrency=1, a second stream is refused while the first runs, and the permit returns when the client aborts', async () => {
    const k = (await s.createKey('conc1', ['--scopes', 'inference,models:read', '--concurrency', '1'])).key;
    s.emu.reset();
    const first = await openStream(s.gw.url, '/api/chat', { authorization: `Bearer ${k}` }, chatBody(true));
    assert.equal(first.status, 200);
    await first.firstChunk; // the stream is running
    const second = await hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${k}` }, body: chatBody(false) });
    assert.equal(second.status, 429, 'the permit is held until the stream ends, not until headers are sent');
    first.abort();
    let third = 0;
    for (let i = 0; i < 20 && third !== 200; i++) {
      await sleep(50);
      third = (await hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${k}` }, body: chatBody(false) })).status;
    }
    assert.equal(third, 200, 'the aborted stream released its permit');
  });

  it('G4: tokens are reserved before admission: two concurrent requests cannot both start against one small tpm budget', async () => {
    const k = (await s.createKey('tpm', ['--scopes', 'inference,models:read', '--tpm', '200'])).key;
    s.emu.reset();
    const replies = await Promise.all([1, 2, 3].map(() => hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${k}` }, body: chatBody(false) })));
    assert.equal(replies.filter((r) => r.status === 200).length, 1, replies.map((r) => r.status).join(','));
    assert.equal(s.emu.requests.length, 1);
  });

  it('G5: the wait queue is bounded in size and time: overflow gets 503/429 with Retry-After, Ollama never sees more than the cap', async () => {
    const k = (await s.createKey('queue', ['--scopes', 'inference,models:read', '--concurrency', '1'])).key;
    s.emu.reset();
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, s.emu.inFlight())), 5);
    const replies = await Promise.all(Array.from({ length: 6 }, () => hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${k}` }, body: chatBody(false) })));
    clearInterval(watch);
    const codes = replies.map((r) => r.status);
    assert.ok(codes.filter((c) => c === 200).length >= 1 && codes.filter((c) => c === 200).length <= 2, codes.join(','));
    const refused = replies.filter((r) => r.status === 429 || r.status === 503);
    assert.ok(refused.length >= 4, codes.join(','));
    assert.ok(refused.every((r) => r.headers['retry-after'] !== undefined), 'Retry-After on every refusal');
    assert.ok(peak <= 1, `Ollama saw ${peak} at once`);
  });
});

describe('threats G2/G8: streamed tokens are counted, from the parsed stream', () => {
  let s: Stack;
  let key: string;
  let metricsKey: string;
  before(async () => {
    s = await startStack({ emulator: { chunks: 300 }, config: { metrics: { listen: 'main' }, limits: { auth_failures: { max: 0 } }, audit: { flush_interval: '100ms' } } });
    key = (await s.createKey('streamer', ['--scopes', 'inference,models:read'])).key;
    metricsKey = (await s.createKey('scraper', ['--scopes', 'metrics'])).key;
  });
  after(() => s.close());

  const counted = async (): Promise<number> => {
    const m = (await hit(s.gw.url, 'GET', '/metrics', { headers: { authorization: `Bearer ${metricsKey}` } })).body;
    return [...m.matchAll(/^gatehouse_tokens_total\{[^}]*principal="streamer"[^}]*\} (\d+)/gm)].reduce((a, x) => a + Number(x[1]), 0);
  };

  it('G2: a streamed native (NDJSON) and a streamed OpenAI (SSE) request are counted with the tokens Ollama reported, not zero', async () => {
    s.emu.reset();
    const before = await counted();
    const nd = await hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}` }, body: chatBody(true) });
    assert.equal(nd.status, 200);
    const sse = await hit(s.gw.url, 'POST', '/v1/chat/completions', { headers: { authorization: `Bearer ${key}` }, body: chatBody(true) });
    assert.equal(sse.status, 200);
    assert.doesNotMatch(sse.body, /"usage"/, 'the usage chunk Gatehouse asked for is not shown to a client that did not ask');
    await settle(300);
    const sent = s.emu.tokensSent.prompt + s.emu.tokensSent.completion;
    assert.ok(sent > 600);
    assert.equal((await counted()) - before, sent);
  });

  it('G8: the audit record of a 30 KB stream carries the exact token counts from its final record', async () => {
    s.emu.reset();
    const r = await hit(s.gw.url, 'POST', '/api/generate', { headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'llama3', prompt: 'tell me a story' }) });
    assert.ok(r.body.length > 20_000, `stream of ${r.body.length} bytes`);
    await settle(500);
    const lines = s.cli(['audit', '--json', '--limit', '5']).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const rec = lines.find((l) => JSON.stringify(l).includes(r.id))!;
    assert.ok(rec, `no audit record for ${r.id}`);
    const text = JSON.stringify(rec);
    assert.match(text, new RegExp(`"completion_tokens":${s.emu.tokensSent.completion}\\b`), text);
    assert.match(text, new RegExp(`"prompt_tokens":${s.emu.tokensSent.prompt}\\b`), text);
    assert.doesNotMatch(text, /"tokens_estimated":true/);
  });
});

describe('threats G6/G7: configuration that would be ignored is refused; auth survives a dead key store', () => {
  it('G6: config fields that look like limits but do not exist fail validation by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-g6-'));
    try {
      for (const [yaml, field] of [
        ['allow_ips: ["10.0.0.0/8"]', 'allow_ips'], ['model_limits: { llama3: 5 }', 'model_limits'], ['limits: { rpm: 10 }', 'rpm'], ['limits: { defaults: { rps: 1 } }', 'rps'],
        ['limits: { auth_failures: { max: 5, lockout: 1h } }', 'lockout'], ['clamps: { max_ctx: 10 }', 'max_ctx'], ['timeouts: { client: 5s }', 'client'], ['body_limits: { chat: 1mb }', 'chat'],
      ]) {
        const file = join(dir, 'g.yaml');
        writeFileSync(file, `${yaml}\n`);
        const r = spawnCheck(file);
        assert.notEqual(r.code, 0, `${yaml} was accepted`);
        assert.match(r.out, new RegExp(field!), `${yaml}: the error names ${field}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('G7: keys keep authenticating from memory while the store fails; a store that never answered fails closed (401, not 500)', async () => {
    const k = generateApiKey();
    const rec: KeyRecord = {
      id: 'key_g7', name: 'g7', kind: 'api_key', hash: k.hash, hint: k.hint, fingerprint: null, publicKey: null, scopes: ['inference'], models: null,
      limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, policyId: null, createdAt: 0, expiresAt: null, revokedAt: null, lastUsedAt: null, updatedAt: 0, version: 1,
    };
    let down = false;
    const store = {
      changesSince: async () => {
        if (down) throw new Error('connection refused');
        return { version: 1, records: [rec] };
      },
    } as unknown as KeyStore;
    const cache = new KeyCache(store);
    await cache.refresh();
    down = true;
    for (let i = 0; i < 3; i++) await cache.refresh();
    assert.ok(cache.health.lastError, 'the failure is visible to /readyz and metrics');
    assert.equal(authenticateApiKey(k.key, cache, systemClock).ok, true);
    const empty = new KeyCache({ changesSince: async () => Promise.reject(new Error('down')) } as unknown as KeyStore);
    await empty.refresh();
    const r = authenticateApiKey(k.key, empty, systemClock);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.status, 401);
  });
});

function spawnCheck(file: string): { code: number; out: string } {
  const r = cli(['config', 'check', '--config', file]);
  return { code: r.code, out: r.stdout + r.stderr };
}
