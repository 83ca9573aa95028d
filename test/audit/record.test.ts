import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditRecordOf, safePath } from '../../src/audit/record.js';
import { principal, scope } from './scopes.js';

describe('audit record from a request scope', () => {
  it('copies who, what, decision, tokens and timing', () => {
    const s = scope({ id: 'req_abc', ageMs: 40, ttfbMs: 5.12345 });
    const r = auditRecordOf(s, s.start + 40.0004);
    assert.deepEqual(r, {
      at: s.startedAt, requestId: 'req_abc', principalId: 'key_alice000001', principalName: 'alice', clientIp: '10.0.0.7', method: 'POST',
      route: 'chat', path: null, scope: 'inference', model: 'registry.ollama.ai/library/llama3:latest', models: ['registry.ollama.ai/library/llama3:latest'],
      decision: 'allowed', reason: null, status: 200, promptTokens: 7, completionTokens: 11, tokensEstimated: false, ttfbMs: 5.123, durationMs: 40,
      bytesIn: 120, bytesOut: 900, clientAborted: false, stream: true, upstream: 'http://127.0.0.1:11434', upstreamError: null, node: null,
    });
  });

  it('a refusal before authentication has no principal, no tokens, and no upstream', () => {
    const r = auditRecordOf(scope({ route: 'tags', principal: null, decision: 'refused', reason: 'GW_ERR_AUTH_INVALID', status: 401, usage: null, ttfbMs: null }));
    assert.equal(r.principalId, null);
    assert.equal(r.principalName, null);
    assert.equal(r.scope, 'models:read');
    assert.equal(r.promptTokens, null);
    assert.equal(r.completionTokens, null);
    assert.equal(r.tokensEstimated, false);
    assert.equal(r.upstream, null);
    assert.equal(r.reason, 'GW_ERR_AUTH_INVALID');
  });

  it('keeps the path only for unmatched routes, clipped, with key-shaped text blanked', () => {
    const key = 'gatehouse_' + 'A1b2C3'.repeat(8) + 'x';
    const r = auditRecordOf(scope({ route: null, path: `/v2/${key}/x`, decision: 'refused', reason: 'GW_ERR_ROUTE_NOT_FOUND', status: 404 }));
    assert.equal(r.route, null);
    assert.equal(r.path, '/v2/gatehouse_[redacted]/x');
    assert.ok(!JSON.stringify(r).includes(key));
    assert.equal(safePath('/a'.repeat(300)).length, 200);
    assert.equal(auditRecordOf(scope({ route: 'chat', path: '/api/chat' })).path, null);
  });

  it('clips upstream error text and strips control characters (PostgreSQL cannot store NUL)', () => {
    const r = auditRecordOf(scope({ upstreamError: 'boom\u0000\n' + 'x'.repeat(1000) }));
    assert.equal(r.upstreamError!.length, 300);
    assert.ok(!/[\u0000-\u001f]/.test(r.upstreamError!));
  });

  it('never carries key material: only the principal id and name', () => {
    const p = principal('bob', 'key_bob0000001');
    const r = auditRecordOf(scope({ principal: p }));
    const text = JSON.stringify(r);
    assert.ok(!text.includes('f'.repeat(64)), 'no key hash');
    assert.ok(!text.includes('gatehouse_ab12'), 'no key hint');
    assert.match(text, /"principalName":"bob"/);
  });
});
