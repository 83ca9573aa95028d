import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, upstreamOf } from './support.js';

/**
 * A bearer token shaped like a JWT (what an OpenID Connect sign-in hands a client) is refused with
 * its own code, GW_ERR_AUTH_JWT_UNSUPPORTED, in each family's error shape, instead of being
 * answered "invalid API key"; nothing reaches Ollama. A token that only looks a little like one
 * is an API key attempt as before. The refusal counts as a failed authentication.
 */

const segment = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const JWT = `${segment({ alg: 'RS256', typ: 'JWT', kid: 'key-1' })}.${segment({ sub: 'alice', iss: 'https://login.example', exp: 4102444800 })}.${Buffer.from('not a real signature').toString('base64url')}`;
const MESSAGE = 'this gateway does not accept JWT bearer tokens (no OpenID sign-in is configured); send a Gatehouse API key as "Authorization: Bearer <key>"';

const chat = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false });
const FAMILIES = [
  { name: 'Ollama', path: '/api/chat', body: chat },
  { name: 'OpenAI', path: '/v1/chat/completions', body: chat },
  { name: 'Anthropic', path: '/v1/messages', body: JSON.stringify({ model: 'llama3', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }) },
] as const;

describe('JWT bearer tokens get their own refusal', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG } });
  });
  after(async () => {
    await s.close();
  });

  for (const f of FAMILIES) {
    it(`${f.name}: 401 GW_ERR_AUTH_JWT_UNSUPPORTED in the family's error shape, nothing forwarded`, async () => {
      s.emu.reset();
      const r = await hit(s.gw.url, 'POST', f.path, { headers: { 'content-type': 'application/json', authorization: `Bearer ${JWT}` }, body: f.body });
      assert.equal(r.status, 401, r.body);
      assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_AUTH_JWT_UNSUPPORTED');
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="gatehouse"');
      const body = JSON.parse(r.body) as Record<string, unknown>;
      if (f.name === 'Ollama') assert.deepEqual(body, { error: MESSAGE });
      if (f.name === 'OpenAI') assert.deepEqual(body, { error: { message: MESSAGE, type: 'authentication_error', param: null, code: 'GW_ERR_AUTH_JWT_UNSUPPORTED' } });
      if (f.name === 'Anthropic') assert.deepEqual(body, { type: 'error', error: { type: 'authentication_error', message: MESSAGE }, request_id: r.id });
      assert.equal(upstreamOf(s.emu, r.id).length, 0);
      assert.equal(s.emu.requests.length, 0);
    });
  }

  it('a near-JWT (no JSON header with "alg", or not three segments) is still an invalid API key', async () => {
    const [h, p, sig] = JWT.split('.');
    const near = [`${segment({ typ: 'JWT' })}.${p}.${sig}`, `${h}.${p}`, `${h}.${p}.${sig}.${sig}`, `${h}..${sig}`, 'a.b.c', `${h}.${p}.${sig}=`];
    for (const token of near) {
      s.emu.reset();
      const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: chat });
      assert.equal(r.status, 401, token);
      assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_AUTH_INVALID', token);
      assert.match(r.body, /invalid API key/);
      assert.equal(s.emu.requests.length, 0);
    }
  });

  it('a JWT sent as x-api-key is an API key attempt, answered as one', async () => {
    const r = await hit(s.gw.url, 'POST', '/v1/messages', { headers: { 'content-type': 'application/json', 'x-api-key': JWT }, body: FAMILIES[2].body });
    assert.equal(r.status, 401);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_AUTH_INVALID');
  });
});

describe('JWT refusals count as failed authentications', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, limits: { auth_failures: { max: 2, window: '1m' } } } });
  });
  after(async () => {
    await s.close();
  });

  it('past the limit the answer is 429 GW_ERR_AUTH_TOO_MANY_FAILURES', async () => {
    const codes: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await hit(s.gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${JWT}` } });
      codes.push(r.headers['x-gatehouse-error']);
    }
    assert.deepEqual(codes.slice(0, 2), ['GW_ERR_AUTH_JWT_UNSUPPORTED', 'GW_ERR_AUTH_JWT_UNSUPPORTED']);
    assert.equal(codes[3], 'GW_ERR_AUTH_TOO_MANY_FAILURES');
    assert.equal(s.emu.requests.length, 0);
  });
});
