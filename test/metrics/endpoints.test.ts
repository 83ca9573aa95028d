import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { hit } from '../audit/http.js';

/**
 * Where /metrics is served (docs/threat-model.md F3): by default on its own loopback listener and nowhere
 * else; with metrics.listen: main, on the main listener to keys with the `metrics` scope only;
 * with off, nowhere.
 */

const metricsUrl = (s: Stack): string | null => /"metrics_url":"([^"]+)"/.exec(s.gw.logs())?.[1] ?? null;

describe('/metrics endpoints', () => {
  let sep: Stack;
  let main: Stack;
  let off: Stack;
  before(async () => {
    [sep, main, off] = await Promise.all([
      startStack({ config: { metrics: { listen: '127.0.0.1:0' } } }),
      startStack({ config: { metrics: { listen: 'main' } } }),
      startStack({ config: { metrics: { listen: 'off' } } }),
    ]);
  });
  after(async () => {
    await Promise.all([sep.close(), main.close(), off.close()]);
  });

  it('default: a separate listener serves GET/HEAD /metrics and nothing else', async () => {
    const url = metricsUrl(sep);
    assert.ok(url && url.startsWith('http://127.0.0.1:'), 'separate loopback listener');
    const { key } = await sep.createKey('m');
    await hit(sep.gw.url, { path: '/api/chat', key, body: { model: 'llama3', messages: [{ role: 'user', content: 'x' }] } });
    await hit(sep.gw.url, { path: '/api/tags' });
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    assert.match(text, /^gatehouse_requests_total\{route="chat",scope="inference",status="200",decision="allowed"\} 1$/m);
    assert.match(text, /^gatehouse_requests_total\{route="tags",scope="models:read",status="401",decision="refused"\} 1$/m);
    assert.match(text, /^gatehouse_tokens_total\{model="registry\.ollama\.ai\/library\/llama3:latest",principal="m",kind="completion"\} \d+$/m);
    assert.match(text, /^gatehouse_upstream_up 1$/m);
    assert.match(text, /^gatehouse_audit_queue_depth \d+$/m);
    assert.match(text, /^gatehouse_keys_loaded \d+$/m);
    assert.equal((await fetch(url, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(url, { method: 'POST' })).status, 405);
    assert.equal((await fetch(url.replace('/metrics', '/'))).status, 404);
    const rebinding = await hit(url.replace('/metrics', ''), { path: '/metrics', headers: { host: 'attacker.example' } });
    assert.equal(rebinding.status, 403, 'DNS rebinding: a foreign Host is refused');
  });

  it('default: the main listener has no /metrics (credentials are still checked first, as on every protected route)', async () => {
    const { key } = await sep.createKey('m2', ['--scopes', 'metrics']);
    assert.equal((await hit(sep.gw.url, { path: '/metrics' })).status, 401);
    const r = await hit(sep.gw.url, { path: '/metrics', key });
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_ROUTE_NOT_FOUND');
    assert.match(r.text, /metrics\.listen: main/);
    assert.equal(sep.emu.requests.filter((x) => x.path === '/metrics').length, 0);
  });

  it('main: only a key with the metrics scope may read /metrics', async () => {
    assert.equal(metricsUrl(main), null, 'no separate listener');
    const plain = (await main.createKey('plain')).key;
    const scraper = (await main.createKey('prometheus', ['--scopes', 'metrics'])).key;
    assert.equal((await hit(main.gw.url, { path: '/metrics' })).status, 401);
    const denied = await hit(main.gw.url, { path: '/metrics', key: plain });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-gatehouse-error'], 'GW_ERR_SCOPE_MISSING');
    const ok = await hit(main.gw.url, { path: '/metrics', key: scraper });
    assert.equal(ok.status, 200);
    assert.match(ok.headers['content-type'] as string, /^text\/plain/);
    assert.match(String(ok.headers['x-request-id']), /^req_/);
    assert.match(ok.text, /gatehouse_refusals_total\{reason="GW_ERR_SCOPE_MISSING"\} 1/);
    assert.equal(main.emu.requests.filter((r) => r.path === '/metrics').length, 0, 'never forwarded to Ollama');
    assert.equal((await hit(main.gw.url, { method: 'POST', path: '/metrics', key: scraper })).status, 405);
  });

  it('off: no listener and no route', async () => {
    assert.equal(metricsUrl(off), null);
    const { key } = await off.createKey('m3', ['--scopes', 'metrics']);
    assert.equal((await hit(off.gw.url, { path: '/metrics', key })).status, 404);
  });
});
