import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DialectId } from '../../src/dialects/types.js';
import type { RouteDef } from '../../src/routes/table.js';
import { send, type RawResponse } from '../helpers/http.js';
import { namesModel, PROTECTED_ROUTES, sampleRequest } from '../helpers/route-samples.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';

/**
 * Generated from the route table: every protected route × every way a credential can be wrong is
 * refused with the right status, in the route family's error shape, and the emulator (Ollama)
 * receives nothing. Management and cloud routes are switched on here so the refusals tested are
 * the credential's, not the route gate's (the gate has its own test below).
 */

type CredentialCase = { name: string; status: number; headers: (r: RouteDef) => Record<string, string> | null; model?: string };

function assertShape(family: DialectId, res: RawResponse, method: string): void {
  if (method === 'HEAD') return; // no body on HEAD
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  if (family === 'ollama') assert.equal(typeof body.error, 'string', res.body);
  else if (family === 'openai') {
    const e = body.error as Record<string, unknown>;
    assert.equal(typeof e.message, 'string', res.body);
    assert.equal(typeof e.type, 'string', res.body);
    assert.ok('param' in e && 'code' in e, res.body);
  } else {
    assert.equal(body.type, 'error', res.body);
    const e = body.error as Record<string, unknown>;
    assert.equal(typeof e.type, 'string');
    assert.equal(typeof e.message, 'string');
  }
}

describe('route table × credential states', () => {
  let s: Stack;
  const keys: Record<string, string> = {};

  before(async () => {
    // Hundreds of deliberate failures from one address: the brute-force guard (tested on its own
    // in test/security) would turn them into 429s.
    s = await startStack({ config: { routes: { manage: true, cloud: true }, limits: { auth_failures: { max: 0 } } } });
    const mk = (name: string, args: string[]) => s.createKey(name, args, { wait: false });
    const all = 'inference,models:read,models:manage,cloud';
    keys.good = (await mk('good', ['--scopes', all])).key;
    const revoked = await mk('revoked', ['--scopes', all]);
    assert.equal(s.cli(['keys', 'revoke', revoked.id]).code, 0);
    keys.revoked = revoked.key;
    keys.expired = (await mk('expired', ['--scopes', all, '--expires', '1s'])).key;
    keys.inferenceOnly = (await mk('inference-only', ['--scopes', 'inference'])).key;
    keys.readOnly = (await mk('read-only', ['--scopes', 'models:read'])).key;
    keys.mistralOnly = (await mk('mistral-only', ['--scopes', all, '--models', 'mistral'])).key;
    await settle(1200); // expiry passes, and the gateway has polled the store
  });
  after(() => s.close());

  const bearer = (k: string) => () => ({ authorization: `Bearer ${k}` });
  const cases: CredentialCase[] = [
    { name: 'no credential', status: 401, headers: () => ({}) },
    { name: 'malformed (Basic without a key)', status: 401, headers: () => ({ authorization: 'Basic Og==' }) },
    { name: 'malformed (unknown scheme)', status: 401, headers: () => ({ authorization: 'Token abc' }) },
    { name: 'unknown key', status: 401, headers: () => ({ authorization: 'Bearer gatehouse_0000000000000000000000000000000000000000000000000' }) },
    { name: 'revoked key', status: 401, headers: () => ({ authorization: `Bearer ${keys.revoked}` }) },
    { name: 'expired key', status: 401, headers: () => ({ 'x-api-key': keys.expired! }) },
    {
      name: 'wrong scope',
      status: 403,
      headers: (r) => ({ authorization: `Bearer ${r.scope === 'inference' ? keys.readOnly : keys.inferenceOnly}` }),
    },
  ];

  for (const route of PROTECTED_ROUTES) {
    describe(`${route.method} ${route.path}`, () => {
      for (const c of cases) {
        it(`${c.name} → ${c.status}, nothing forwarded`, async () => {
          s.emu.reset();
          const req = sampleRequest(route);
          const res = await send(s.gw.url, req.method, req.path, { headers: { ...req.headers, ...c.headers(route) }, body: req.body });
          assert.equal(res.status, c.status, `${res.status} ${res.body}`);
          assertShape(route.dialect.id, res, req.method);
          if (c.status === 401) assert.match(String(res.headers['www-authenticate']), /^Bearer /);
          assert.equal(s.emu.requests.length, 0, 'the emulator must receive nothing');
        });
      }
      if (namesModel(route)) {
        it('disallowed model → answered as a missing model, nothing forwarded', async () => {
          s.emu.reset();
          const req = sampleRequest(route, 'llama3');
          const res = await send(s.gw.url, req.method, req.path, { headers: { ...req.headers, ...bearer(keys.mistralOnly!)() }, body: req.body });
          assert.equal(res.status, 404, res.body);
          assertShape(route.dialect.id, res, req.method);
          if (req.method !== 'HEAD') assert.match(res.body, /model \\?['"]llama3[^'"\\]*\\?['"] not found/);
          assert.equal(s.emu.requests.length, 0);
        });
      }
      if (!route.local) it('a key with the right scope and model gets through', async () => {
        s.emu.reset();
        const req = sampleRequest(route);
        const res = await send(s.gw.url, req.method, req.path, { headers: { ...req.headers, ...bearer(keys.good!)() }, body: req.body });
        assert.ok(s.emu.requests.length >= 1, `expected the request to reach Ollama (got ${res.status} ${res.body.slice(0, 200)})`);
        assert.ok(res.status < 500, `${res.status} ${res.body.slice(0, 200)}`);
      });
    });
  }
});

// Exact parity with Ollama's own answer for a missing model, route by route:
// test/security/missing-model-parity.test.ts.

describe('management and cloud routes are off unless the operator turns them on', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack();
    key = (await s.createKey('admin-ish', ['--scopes', 'inference,models:read,models:manage,cloud'])).key;
  });
  after(() => s.close());

  for (const route of PROTECTED_ROUTES.filter((r) => r.gate)) {
    it(`${route.method} ${route.path} → 403 even with every scope`, async () => {
      s.emu.reset();
      const req = sampleRequest(route);
      const res = await send(s.gw.url, req.method, req.path, { headers: { ...req.headers, authorization: `Bearer ${key}` }, body: req.body });
      assert.equal(res.status, 403);
      if (req.method !== 'HEAD') assert.match(res.body, route.gate === 'manage' ? /routes\.manage: true/ : /routes\.cloud: true/);
      assert.equal(s.emu.requests.length, 0);
    });
  }

  it('a :cloud model on an inference route is refused while cloud is off', async () => {
    s.emu.reset();
    const res = await send(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'gpt-oss:120b-cloud', messages: [] }) });
    assert.equal(res.status, 403);
    assert.equal(s.emu.requests.length, 0);
  });
});
