import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { generateApiKey, hashApiKey } from '../../src/auth/api-key.js';
import { startStack, settle, type Stack } from '../helpers/stack.js';
import { hit, type Hit } from './http.js';

/**
 * docs/threat-model.md F1–F3: after a run with valid, revoked, unknown and malformed keys and distinctive
 * prompts (allowed, refused, failed and aborted), no key, no key hash and no prompt appears in the
 * gateway's logs (at debug level), the audit and admin tables, /metrics, any response body or
 * header, or the output of `gatehouse audit` and `gatehouse usage`.
 */
describe('no key material or prompts in logs, audit, metrics or error bodies', () => {
  let s: Stack;
  const secrets = new Map<string, string>(); // text → what it is
  const responses: Hit[] = [];
  let metricsText = '';
  let corpus = '';

  before(async () => {
    s = await startStack({ config: { log: { level: 'debug', format: 'json' }, metrics: { listen: '127.0.0.1:0' }, audit: { flush_interval: '50ms' }, timeouts: { upstream_headers: '1s' } } });
    const good = await s.createKey('leak-good');
    const revoked = await s.createKey('leak-revoked');
    const reader = await s.createKey('leak-reader', ['--scopes', 'models:read']);
    const unknown = generateApiKey().key; // well formed, never registered
    const mangled = good.key.slice(0, -3) + 'zzz'; // right shape, wrong checksum
    for (const [k, what] of [[good.key, 'valid key'], [revoked.key, 'revoked key'], [reader.key, 'reader key'], [unknown, 'unknown key'], [mangled, 'mangled key']] as const) {
      secrets.set(k, what);
      secrets.set(hashApiKey(k), `${what} hash`);
      secrets.set(k.slice(10, 40), `${what} body`);
    }
    const canary = () => {
      const c = `CANARY-${randomBytes(8).toString('hex')}`;
      secrets.set(c, 'prompt');
      return c;
    };
    const chat = (content: string, extra: object = {}) => ({ model: 'llama3', messages: [{ role: 'user', content }], ...extra });
    const go = async (req: Parameters<typeof hit>[1]) => responses.push(await hit(s.gw.url, req));

    await go({ path: '/api/chat', key: good.key, body: chat(canary()) });
    await go({ path: '/api/generate', key: good.key, body: { model: 'llama3', prompt: canary(), stream: false } });
    await go({ path: '/v1/chat/completions', key: good.key, body: chat(canary(), { stream: true }) });
    await go({ path: '/v1/messages', key: good.key, body: chat(canary(), { max_tokens: 20 }) });
    await go({ path: '/api/embed', key: good.key, body: { model: 'nomic-embed-text', input: canary() } });
    await go({ path: '/api/tags', headers: { 'x-api-key': good.key } });
    await go({ path: '/api/tags', headers: { authorization: `Basic ${Buffer.from(`user:${good.key}`).toString('base64')}` } });
    assert.equal(s.cli(['keys', 'revoke', revoked.id]).code, 0);
    await settle();
    await go({ path: '/api/chat', key: revoked.key, body: chat(canary()) });
    await go({ path: '/api/chat', key: unknown, body: chat(canary()) });
    await go({ path: '/api/chat', key: mangled, body: chat(canary()) });
    await go({ path: '/api/chat', headers: { authorization: `Bearer ${good.key} extra` }, body: chat(canary()) });
    await go({ path: '/api/chat', key: reader.key, body: chat(canary()) });
    await go({ path: '/api/chat', key: good.key, body: `{"model":"llama3","messages":[{"role":"user","content":"${canary()}"` });
    await go({ path: '/api/chat', key: good.key, body: { model: 'llama3', Messages: [], messages: [{ role: 'user', content: canary() }] } });
    await go({ path: '/api/chat', key: good.key, body: chat(canary(), { options: { num_ctx: 10_000_000 } }) });
    await go({ path: `/api/nope?key=${good.key}`, key: good.key });
    s.emu.fault({ midStreamErrorAfter: 1 });
    await go({ path: '/api/chat', key: good.key, body: chat(canary()) });
    s.emu.fault({ destroyAfter: 0 });
    await go({ path: '/api/generate', key: good.key, body: { model: 'llama3', prompt: canary(), stream: false } });
    s.emu.fault({ chunks: 500, chunkDelayMs: 5 });
    await go({ path: '/api/chat', key: good.key, body: chat(canary()), abortAfterFirstChunk: true });
    s.emu.clearFaults();
    assert.ok(s.emu.requests.some((r) => r.body.toString().includes('CANARY-')), 'the prompts did reach Ollama');

    await settle(400);
    const murl = /"metrics_url":"([^"]+)"/.exec(s.gw.logs())![1]!;
    metricsText = await (await fetch(murl)).text();
    assert.match(metricsText, /gatehouse_requests_total/);
    const auditOut = s.cli(['audit', '--json', '--limit', '1000']);
    const adminOut = s.cli(['audit', '--admin', '--json']);
    const usageOut = s.cli(['usage', '--json']);
    const listOut = s.cli(['keys', 'list', '--json']);
    assert.equal(auditOut.code, 0, auditOut.stderr);
    assert.equal(auditOut.stdout.trim().split('\n').length, responses.length, 'one audit record per request');
    await s.gw.stop();

    const db = new Database(join(s.dataDir, 'gatehouse.db'), { readonly: true });
    const tables = ['audit', 'admin_events'].map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t}`).all())).join('\n');
    db.close();
    corpus = [
      s.gw.logs(), tables, metricsText,
      ...responses.map((r) => `${JSON.stringify(r.headers)}\n${r.text}`),
      auditOut.stdout, auditOut.stderr, adminOut.stdout, usageOut.stdout, listOut.stdout,
    ].join('\n');
  });
  after(() => s.close());

  it('searched a real corpus', () => {
    assert.ok(corpus.length > 10_000);
    assert.ok(responses.some((r) => r.status === 401) && responses.some((r) => r.status === 200) && responses.some((r) => r.status >= 500));
  });

  it('finds no key, key hash or prompt anywhere', () => {
    const found = [...secrets].filter(([text]) => corpus.includes(text)).map(([text, what]) => `${what} (${text.slice(0, 14)}…)`);
    assert.deepEqual(found, []);
  });

  it('not even case-folded or percent-encoded', () => {
    const lower = corpus.toLowerCase();
    const found = [...secrets].filter(([text, what]) => what.endsWith('key') && (lower.includes(text.toLowerCase()) || corpus.includes(encodeURIComponent(text)))).map(([, what]) => what);
    assert.deepEqual(found, []);
  });
});
