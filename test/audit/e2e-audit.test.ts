import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStores } from '../../src/store/index.js';
import type { AuditRecord } from '../../src/store/types.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { hit, type Hit } from './http.js';

/**
 * The first test: every request of a real run (allowed, refused, aborted, upstream
 * failure) has exactly one audit record, with the tokens the emulator really sent (docs/threat-model.md G8:
 * counts come from the parsed stream, never from a truncated copy of it).
 */

interface Case {
  name: string;
  res: Hit;
  /** What the emulator wrote into this response (delta of tokensSent). */
  sent: { prompt: number; completion: number };
  expect: Partial<AuditRecord>;
}

describe('audit: one record per request, with the right tokens', () => {
  let s: Stack;
  let key: string;
  let keyId: string;
  let reader: string;
  let limited: string;
  const cases: Case[] = [];
  let records: AuditRecord[] = [];
  let exitCode: number | null = null;

  const run = async (name: string, req: Parameters<typeof hit>[1], expect: Partial<AuditRecord>) => {
    const before = { ...s.emu.tokensSent };
    const res = await hit(s.gw.url, req);
    if (res.aborted) await s.emu.waitFor((e) => e.inFlight() === 0, 3000);
    cases.push({ name, res, sent: { prompt: s.emu.tokensSent.prompt - before.prompt, completion: s.emu.tokensSent.completion - before.completion }, expect });
    return res;
  };

  before(async () => {
    s = await startStack({ config: { metrics: { listen: 'off' }, audit: { flush_interval: '100ms' }, timeouts: { upstream_headers: '2s' } } });
    ({ key, id: keyId } = await s.createKey('e2e'));
    reader = (await s.createKey('reader', ['--scopes', 'models:read'])).key;
    limited = (await s.createKey('limited', ['--models', 'qwen2.5:*'])).key;
    const chat = { model: 'llama3', messages: [{ role: 'user', content: 'hello' }] };

    // Allowed, across the three API families, streamed and not.
    await run('native chat, streamed', { path: '/api/chat', key, body: chat }, { decision: 'allowed', status: 200, route: 'chat', stream: true });
    await run('native generate, not streamed', { path: '/api/generate', key, body: { model: 'llama3', prompt: 'why', stream: false } }, { decision: 'allowed', status: 200, route: 'generate', stream: false });
    await run('native embed', { path: '/api/embed', key, body: { model: 'nomic-embed-text', input: ['a', 'b c'] } }, { decision: 'allowed', status: 200, route: 'embed' });
    await run('openai chat', { path: '/v1/chat/completions', key, body: chat }, { decision: 'allowed', status: 200, route: 'openai.chat' });
    await run('openai chat, streamed without include_usage', { path: '/v1/chat/completions', key, body: { ...chat, stream: true } }, { decision: 'allowed', status: 200, route: 'openai.chat', stream: true });
    await run('openai chat, streamed with include_usage', { path: '/v1/chat/completions', key, body: { ...chat, stream: true, stream_options: { include_usage: true } } }, { decision: 'allowed', status: 200, stream: true });
    await run('anthropic messages, streamed', { path: '/v1/messages', key, body: { ...chat, max_tokens: 50, stream: true } }, { decision: 'allowed', status: 200, route: 'anthropic.messages' });
    await run('openai responses', { path: '/v1/responses', key, body: { model: 'llama3', input: 'hi' } }, { decision: 'allowed', status: 200, route: 'openai.responses' });
    await run('tags (no tokens)', { path: '/api/tags', key }, { decision: 'allowed', status: 200, route: 'tags', promptTokens: null, completionTokens: null });
    await run('public root', { path: '/' }, { decision: 'allowed', status: 200, route: 'root', principalId: null });

    // Refused, at every stage.
    await run('no key', { path: '/api/chat', body: chat }, { decision: 'refused', status: 401, reason: 'GW_ERR_AUTH_MISSING', principalId: null });
    await run('unknown key', { path: '/api/tags', key: 'gatehouse_' + '0'.repeat(49) }, { decision: 'refused', status: 401, reason: 'GW_ERR_AUTH_INVALID' });
    await run('scope missing', { path: '/api/chat', key: reader, body: chat }, { decision: 'refused', status: 403, reason: 'GW_ERR_SCOPE_MISSING', principalName: 'reader' });
    // The client cannot tell these two apart (test/security/model-policy.test.ts); the audit can.
    await run('model not on the allowlist', { path: '/api/chat', key: limited, body: chat }, { decision: 'refused', status: 404, reason: 'GW_ERR_MODEL_NOT_ALLOWED', principalName: 'limited', upstream: null });
    await run('model Ollama does not have', { path: '/api/chat', key: limited, body: { ...chat, model: 'qwen2.5:72b' } }, { decision: 'allowed', status: 404, reason: null, principalName: 'limited' });
    await run('bad JSON', { path: '/api/chat', key, body: '{"model":' }, { decision: 'refused', status: 400, reason: 'GW_ERR_BODY_INVALID_JSON' });
    await run('unknown route', { path: '/api/nope', key }, { decision: 'refused', status: 404, reason: 'GW_ERR_ROUTE_NOT_FOUND', route: null, path: '/api/nope' });
    await run('method not allowed', { method: 'DELETE', path: '/api/chat', key }, { decision: 'refused', status: 405, reason: 'GW_ERR_METHOD_NOT_ALLOWED' });
    await run('manage routes are off', { path: '/api/pull', key, body: { model: 'llama3' } }, { decision: 'refused', status: 403, reason: 'GW_ERR_ROUTE_DISABLED' });

    // The client goes away mid-stream.
    s.emu.fault({ chunks: 2000, chunkDelayMs: 5 });
    await run('client aborts a stream', { path: '/api/chat', key, body: chat, abortAfterFirstChunk: true }, { decision: 'allowed', clientAborted: true, tokensEstimated: true });
    s.emu.clearFaults();

    // Ollama fails: before the headers, in the middle of a stream, with an error status, or hangs.
    s.emu.fault({ destroyAfter: 0 });
    await run('upstream resets before answering', { path: '/api/generate', key, body: { model: 'llama3', prompt: 'x', stream: false } }, { decision: 'allowed', status: 502, reason: 'GW_ERR_UPSTREAM_RESET' });
    s.emu.fault({ midStreamErrorAfter: 2 });
    await run('upstream breaks a stream', { path: '/api/chat', key, body: chat }, { decision: 'allowed', status: 200, tokensEstimated: true });
    s.emu.fault({ status: 500, body: '{"error":"model crashed"}' });
    await run('upstream answers 500', { path: '/api/chat', key, body: { ...chat, stream: false } }, { decision: 'allowed', status: 500, promptTokens: null });
    s.emu.fault({ hangMs: 5000 });
    await run('upstream too slow', { path: '/api/chat', key, body: { ...chat, stream: false } }, { decision: 'allowed', status: 504, reason: 'GW_ERR_UPSTREAM_TIMEOUT' });
    s.emu.clearFaults();

    // SIGTERM flushes the queue; then read the store the gateway wrote.
    exitCode = await s.gw.stop();
    const stores = await openStores({ dataDir: s.dataDir });
    records = await stores.audit.query({ limit: 10_000 });
    await stores.close();
  });
  after(() => s.close());

  it('the gateway stopped cleanly on SIGTERM', () => assert.equal(exitCode, 0));

  it('has exactly one record per request, and no others', () => {
    const ids = cases.map((c) => c.res.id);
    assert.ok(ids.every((id) => /^req_/.test(id)), 'every response carried its request id');
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(records.map((r) => r.requestId).sort(), [...ids].sort());
  });

  it('each record says what happened', () => {
    for (const c of cases) {
      const r = records.find((x) => x.requestId === c.res.id)!;
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(r[k as keyof AuditRecord], v, `${c.name}: ${k}`);
      assert.equal(r.status, c.res.aborted ? r.status : c.res.status, `${c.name}: status`);
      assert.equal(r.clientIp, '127.0.0.1');
      assert.ok(r.durationMs > 0, `${c.name}: duration`);
      if (c.expect.decision === 'refused') assert.equal(r.upstream, null, `${c.name}: never went upstream`);
    }
  });

  it('tokens in each record are what the emulator sent (estimated only when the stream was cut)', () => {
    for (const c of cases) {
      const r = records.find((x) => x.requestId === c.res.id)!;
      if (r.tokensEstimated) {
        assert.equal(c.sent.completion, 0, `${c.name}: the emulator never sent final counts`);
        continue;
      }
      if (c.sent.prompt === 0 && c.sent.completion === 0) {
        assert.ok(!r.promptTokens && !r.completionTokens, `${c.name}: no tokens`);
        continue;
      }
      assert.deepEqual({ prompt: r.promptTokens, completion: r.completionTokens }, c.sent, c.name);
    }
    const sum = records.filter((r) => !r.tokensEstimated).reduce((a, r) => ({ prompt: a.prompt + (r.promptTokens ?? 0), completion: a.completion + (r.completionTokens ?? 0) }), { prompt: 0, completion: 0 });
    assert.deepEqual(sum, s.emu.tokensSent);
    assert.ok(sum.completion > 0);
  });

  it('the aborted stream is marked, with the chunks that got through counted as an estimate', () => {
    const c = cases.find((x) => x.name === 'client aborts a stream')!;
    const r = records.find((x) => x.requestId === c.res.id)!;
    assert.equal(r.clientAborted, true);
    assert.ok((r.completionTokens ?? 0) >= 1);
  });

  it('records the principal, model, route scope, bytes, TTFB and upstream node of proxied requests', () => {
    const c = cases.find((x) => x.name === 'native generate, not streamed')!;
    const r = records.find((x) => x.requestId === c.res.id)!;
    assert.equal(r.principalId, keyId);
    assert.equal(r.principalName, 'e2e');
    assert.equal(r.scope, 'inference');
    assert.equal(r.method, 'POST');
    assert.equal(r.model, 'registry.ollama.ai/library/llama3:latest');
    assert.equal(r.bytesIn, c.res.sent);
    assert.equal(r.bytesOut, c.res.bytes);
    assert.ok(r.ttfbMs !== null && r.ttfbMs > 0 && r.ttfbMs <= r.durationMs);
    assert.equal(r.upstream, s.emu.url);
    assert.ok(Math.abs(r.at - Date.now()) < 60_000);
  });

  it('the upstream failures say so', () => {
    const broken = records.find((x) => x.requestId === cases.find((c) => c.name === 'upstream breaks a stream')!.res.id)!;
    assert.ok(broken.upstreamError && broken.upstreamError.length > 0);
  });
});
