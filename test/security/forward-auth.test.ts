import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, loadOllamaSigner, type OllamaSigner } from '../helpers/ollama-signer.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, rawHit, type Reply } from './support.js';

/**
 * Forward-auth (`GET /auth/verify`, issue #21 item 6): a proxy describes a request in
 * X-Forwarded-Method/-Uri and passes its credentials; Gatehouse answers what it would answer that
 * request, 200 with the principal's identity or the same refusal, and forwards nothing, ever.
 */

describe('forward-auth: GET /auth/verify', () => {
  let s: Stack;
  const keys: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let signer: OllamaSigner;
  let robot: OllamaSigner;
  const keyDir = mkdtempSync(join(tmpdir(), 'gatehouse-fa-'));

  before(async () => {
    const kp = generateKeyPair(keyDir, 'ed25519', 'id_laptop');
    const kp2 = generateKeyPair(keyDir, 'ed25519', 'id_robot');
    signer = loadOllamaSigner(readFileSync(kp.privateKeyPath));
    robot = loadOllamaSigner(readFileSync(kp2.privateKeyPath));
    const robotLine = readFileSync(kp2.publicKeyPath, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const akFile = join(keyDir, 'authorized_keys');
    writeFileSync(akFile, `${robotLine} robot /api/tags\n`);
    s = await startStack({ config: { ...BASE_CONFIG, ssh: { authorized_keys: akFile } } });
    const mk = async (name: string, args: string[]) => {
      const k = await s.createKey(name, args, { wait: false });
      keys[name] = k.key;
      ids[name] = k.id;
    };
    await mk('alice', ['--scopes', 'inference,models:read']);
    await mk('reader', ['--scopes', 'models:read']);
    await mk('llama-only', ['--scopes', 'models:read', '--models', 'llama3*']);
    await mk('slow', ['--rpm', '2']);
    await mk('spent', ['--tpm', '1', '--tpd', '1']);
    await mk('zoë %', []);
    assert.equal(s.cli(['keys', 'add-ssh', '--name', 'laptop', '--pubkey-file', kp.publicKeyPath]).code, 0);
    await settle(1200);
  });
  after(async () => {
    await s.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  const verify = (method: string | null, uri: string | null, headers: Record<string, string> = {}): Promise<Reply> => {
    const h: Record<string, string> = { ...headers };
    if (method !== null) h['x-forwarded-method'] = method;
    if (uri !== null) h['x-forwarded-uri'] = uri;
    return hit(s.gw.url, 'GET', '/auth/verify', { headers: h });
  };
  const bearer = (name: string) => ({ authorization: `Bearer ${keys[name]}` });
  const errorOf = (r: Reply): string => {
    const j = JSON.parse(r.body) as { error: string | { message: string } };
    return typeof j.error === 'string' ? j.error : j.error.message;
  };

  it('a key that may make the request gets 200, its identity in X-Gatehouse-* headers, and no body', async () => {
    const r = await verify('POST', '/api/chat', bearer('alice'));
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, '');
    assert.equal(r.headers['content-length'], '0');
    assert.equal(r.headers['x-gatehouse-principal'], 'alice');
    assert.equal(r.headers['x-gatehouse-principal-id'], ids.alice);
    assert.equal(r.headers['x-gatehouse-scopes'], 'inference,models:read');
    // x-api-key and the OpenAI route: the same answer.
    const o = await verify('POST', '/v1/chat/completions', { 'x-api-key': keys.alice! });
    assert.equal(o.status, 200, o.body);
    assert.equal(o.headers['x-gatehouse-principal'], 'alice');
  });

  it('a name that is not plain ASCII (or holds "%") is percent-encoded as UTF-8', async () => {
    const r = await verify('GET', '/api/tags', bearer('zoë %'));
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-gatehouse-principal'], encodeURIComponent('zoë %'));
  });

  it('public routes pass without a credential and without identity headers', async () => {
    const r = await verify('GET', '/');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-gatehouse-principal'], undefined);
  });

  it('no credential: 401 in the described route\'s dialect', async () => {
    const r = await verify('POST', '/api/chat');
    assert.equal(r.status, 401);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_AUTH_MISSING');
    assert.equal(typeof JSON.parse(r.body).error, 'string');
    const o = await verify('POST', '/v1/chat/completions');
    assert.equal(o.status, 401);
    assert.equal(JSON.parse(o.body).error.type, 'authentication_error');
    const a = await verify('POST', '/v1/messages', { 'x-api-key': 'gatehouse_0000000000000000000000000000000000000000000000000' });
    assert.equal(a.status, 401);
    assert.equal(JSON.parse(a.body).type, 'error');
  });

  it('a key without the scope: 403 GW_ERR_SCOPE_MISSING', async () => {
    const r = await verify('POST', '/api/chat', bearer('reader'));
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_SCOPE_MISSING');
  });

  it('a gated route that is off: 403 GW_ERR_ROUTE_DISABLED', async () => {
    const r = await verify('POST', '/api/pull', bearer('alice'));
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_ROUTE_DISABLED');
  });

  it('an unknown route: 404; a known path with another method: 405 with Allow', async () => {
    const r = await verify('GET', '/api/nope', bearer('alice'));
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_ROUTE_NOT_FOUND');
    const v1 = await verify('GET', '/v1/nope', bearer('alice'));
    assert.equal(JSON.parse(v1.body).error.type, 'not_found_error', 'a /v1 path gets the OpenAI error shape');
    const m = await verify('GET', '/api/chat', bearer('alice'));
    assert.equal(m.status, 405);
    assert.equal(m.headers.allow, 'POST');
    for (const uri of ['/healthz', '/readyz', '/metrics', '/auth/verify']) {
      const l = await verify('GET', uri, bearer('alice'));
      assert.equal(l.status, 404, `${uri}: answered by Gatehouse itself, nothing to protect behind a proxy`);
    }
  });

  it('a model named in the path is held to the allowlist: off it, Ollama\'s own 404 for a missing model', async () => {
    const ok = await verify('GET', '/v1/models/llama3.2:latest', bearer('llama-only'));
    assert.equal(ok.status, 200, ok.body);
    const hidden = await verify('GET', '/v1/models/mistral', bearer('llama-only'));
    assert.equal(hidden.status, 404);
    assert.equal(hidden.headers['x-gatehouse-error'], undefined, 'looks exactly like a missing model');
    assert.match(errorOf(hidden), /mistral/);
  });

  it('authorized_keys endpoint lists apply to the described path', async () => {
    let t = robot.signRequest({ method: 'GET', path: '/api/tags' });
    const ok = await verify('GET', t.url, { authorization: t.authorization });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.headers['x-gatehouse-principal'], 'robot');
    t = robot.signRequest({ method: 'GET', path: '/api/ps' });
    const denied = await verify('GET', t.url, { authorization: t.authorization });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-gatehouse-error'], 'GW_ERR_ENDPOINT_NOT_ALLOWED');
  });

  it('an ollama CLI signature is checked against the described method and URI, not /auth/verify', async () => {
    const t = signer.signRequest({ method: 'POST', path: '/api/chat' });
    const ok = await verify('POST', t.url, { authorization: t.authorization });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.headers['x-gatehouse-principal'], 'laptop');
    const own = signer.signRequest({ method: 'GET', path: '/auth/verify' });
    const bad = await verify('POST', `/api/chat?ts=${own.ts}`, { authorization: own.authorization });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers['x-gatehouse-error'], 'GW_ERR_AUTH_SSH_BAD_SIGNATURE');
    const other = await verify('POST', t.url.replace('/api/chat', '/api/generate'), { authorization: t.authorization });
    assert.equal(other.headers['x-gatehouse-error'], 'GW_ERR_AUTH_SSH_BAD_SIGNATURE', 'a signature for one route does not verify another');
  });

  it('each check counts one request against rpm: past it, 429 with Retry-After', async () => {
    const a = await verify('GET', '/api/tags', bearer('slow'));
    assert.equal(a.status, 200, a.body);
    assert.ok(a.headers['ratelimit-limit'] !== undefined, 'rate-limit headers on the 200');
    assert.equal((await verify('GET', '/api/tags', bearer('slow'))).status, 200);
    const c = await verify('GET', '/api/tags', bearer('slow'));
    assert.equal(c.status, 429, c.body);
    assert.equal(c.headers['x-gatehouse-error'], 'GW_ERR_RATE_LIMITED');
    assert.ok(Number(c.headers['retry-after']) >= 1);
  });

  it('token routes reserve one token and give it back: a key with budget passes any number of times, a spent one gets 429', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await verify('POST', '/api/chat', bearer('spent'))).status, 200, `check ${i}`);
    // One real request uses the whole budget (the emulator reports tokens); then the checks refuse.
    const real = await hit(s.gw.url, 'POST', '/api/chat', { headers: { ...bearer('spent'), 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false }) });
    assert.equal(real.status, 200, real.body);
    const r = await verify('POST', '/api/chat', bearer('spent'));
    assert.equal(r.status, 429, r.body);
    assert.match(String(r.headers['x-gatehouse-error']), /GW_ERR_TOKENS_EXHAUSTED/);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    // Routes that use no tokens are not held to token budgets, as for real requests.
    assert.equal((await verify('GET', '/api/tags', bearer('spent'))).status, 200);
  });

  describe('the described request is read strictly (400 GW_ERR_FORWARD_AUTH_INVALID, with the reason)', () => {
    const cases: Array<[string, string | null, string | null, RegExp]> = [
      ['no X-Forwarded-Uri', 'GET', null, /X-Forwarded-Uri is missing/],
      ['no X-Forwarded-Method', null, '/api/tags', /X-Forwarded-Method is missing/],
      ['a method no route takes', 'PUT', '/api/tags', /not a method/],
      ['absolute form', 'GET', 'http://127.0.0.1:11434/api/tags', /origin form/],
      ['scheme-relative //', 'GET', '//127.0.0.1/api/tags', /authority/],
      ['..', 'GET', '/api/../api/tags', /dot segment/],
      ['%2e%2e', 'GET', '/api/%2e%2e/api/tags', /dot segment/],
      ['an encoded slash', 'GET', '/api%2Ftags', /encoded/],
      ['an empty segment', 'GET', '/api//tags', /empty path segment/],
      ['overlong', 'GET', '/api/tags?x=' + 'a'.repeat(5000), /longer than 4096/],
    ];
    for (const [name, method, uri, why] of cases) {
      it(name, async () => {
        const r = await verify(method, uri, bearer('alice'));
        assert.equal(r.status, 400, r.body);
        assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_FORWARD_AUTH_INVALID');
        assert.match(errorOf(r), why);
      });
    }

    it('X-Forwarded-Uri or X-Forwarded-Method sent twice', async () => {
      for (const dup of [['x-forwarded-uri', '/api/tags', 'x-forwarded-uri', '/api/pull'], ['x-forwarded-method', 'GET', 'x-forwarded-method', 'POST']]) {
        const other = dup[0] === 'x-forwarded-uri' ? ['x-forwarded-method', 'GET'] : ['x-forwarded-uri', '/api/tags'];
        const r = await hit(s.gw.url, 'GET', '/auth/verify', { headers: ['authorization', `Bearer ${keys.alice}`, ...other, ...dup] });
        assert.equal(r.status, 400, r.body);
        assert.match(errorOf(r), /each be sent once/);
      }
    });

    it('CRLF in a header value never becomes a second header or request (Node refuses it; no 200)', async () => {
      const r = await rawHit(s.gw.url, 'GET', '/auth/verify', { authorization: `Bearer ${keys.alice}`, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/tags\rx-forwarded-uri: /api/pull' });
      assert.equal(r.status, 400);
      const lf = await rawHit(s.gw.url, 'GET', '/auth/verify', { authorization: `Bearer ${keys.alice}`, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/tags%0d%0aX-Gatehouse-Principal:%20admin' });
      // Encoded CR/LF stays in the path, which then matches no route.
      assert.equal(lf.status, 404);
    });
  });

  it('/auth/verify takes only GET', async () => {
    const r = await hit(s.gw.url, 'POST', '/auth/verify', { headers: { ...bearer('alice'), 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/tags' } });
    assert.equal(r.status, 405);
  });

  it('nothing above reached Ollama except the one real chat', () => {
    const seen = s.emu.requests.filter((r) => !(r.method === 'POST' && r.path === '/api/chat'));
    assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`), []);
    assert.equal(s.emu.requests.length, 1);
  });

  it('each check is audited: route auth.verify, the described method and path, decision and reason', async () => {
    let lines: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 20; i++) {
      const out = s.cli(['audit', '--json', '--limit', '1000']);
      lines = out.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      if (lines.some((l) => l.route === 'auth.verify' && l.reason === 'GW_ERR_SCOPE_MISSING')) break;
      await settle(250);
    }
    const verifies = lines.filter((l) => l.route === 'auth.verify');
    assert.ok(verifies.length >= 20, `${verifies.length} auth.verify records`);
    const allowed = verifies.find((l) => l.decision === 'allowed' && l.path === '/api/chat' && l.method === 'POST');
    assert.ok(allowed, 'an allowed check of POST /api/chat');
    const scope = verifies.find((l) => l.reason === 'GW_ERR_SCOPE_MISSING');
    assert.equal(scope?.decision, 'refused');
    assert.equal(scope?.path, '/api/chat');
    assert.ok(verifies.some((l) => l.reason === 'GW_ERR_MODEL_NOT_ALLOWED' && l.path === '/v1/models/mistral'));
  });
});

describe('forward-auth with routes.manage on: model management is never allowed through a proxy', () => {
  let s: Stack;
  const keys: Record<string, string> = {};

  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true } } });
    keys.manager = (await s.createKey('manager', ['--scopes', 'inference,models:read,models:manage'], { wait: false })).key;
    keys.user = (await s.createKey('user', ['--scopes', 'inference,models:read'], { wait: false })).key;
    await settle(1200);
  });
  after(async () => {
    await s.close();
  });
  const verify = (key: string, method: string, uri: string) =>
    hit(s.gw.url, 'GET', '/auth/verify', { headers: { authorization: `Bearer ${key}`, 'x-forwarded-method': method, 'x-forwarded-uri': uri } });

  it('a key that may manage models gets 403 GW_ERR_FORWARD_AUTH_MANAGE for each management route, saying where to send it', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const [method, uri] of [['POST', '/api/pull'], ['POST', '/api/push'], ['POST', '/api/create'], ['POST', '/api/copy'], ['DELETE', '/api/delete'], ['POST', `/api/blobs/${digest}`], ['HEAD', `/api/blobs/${digest}`]] as const) {
      const r = await verify(keys.manager!, method, uri);
      assert.equal(r.status, 403, `${method} ${uri}`);
      assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_FORWARD_AUTH_MANAGE', `${method} ${uri}`);
      if (method !== 'HEAD') assert.match((JSON.parse(r.body) as { error: string }).error, /cannot be allowed through a forward-auth proxy: .*send pull, push, create, copy, delete and blob uploads to Gatehouse's own port/);
      assert.equal(r.headers['x-gatehouse-principal'], undefined, 'no identity headers on a refusal');
    }
  });

  it('the same key still passes for inference; a key without models:manage gets the scope refusal first', async () => {
    assert.equal((await verify(keys.manager!, 'POST', '/api/chat')).status, 200);
    const r = await verify(keys.user!, 'POST', '/api/pull');
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_SCOPE_MISSING');
  });

  it('sent to Gatehouse itself, the same key manages models (the refusal is only for the proxy path)', async () => {
    const r = await hit(s.gw.url, 'POST', '/api/copy', { headers: { authorization: `Bearer ${keys.manager}`, 'content-type': 'application/json' }, body: JSON.stringify({ source: 'llama3', destination: 'llama3-copy' }) });
    assert.equal(r.status, 200, r.body);
    assert.equal(s.emu.requests.filter((q) => q.path === '/api/pull' || q.path === '/api/delete' || q.path.startsWith('/api/blobs/')).length, 0, 'no check was forwarded');
  });
});
