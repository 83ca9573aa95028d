import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startProvider, startTrap, type TestProvider } from '../helpers/oidc.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { hit, type Reply } from '../security/support.js';

/**
 * Issue #21 item 1, through a running gateway: JWT bearer tokens from a real OpenID provider
 * (oidc-provider on loopback), mapped to policies by group. Every refused token is refused with its
 * own code and reaches nothing upstream.
 */

const generate = (model: string) => JSON.stringify({ model, prompt: 'hi', stream: false });
const errorOf = (r: Reply): string => {
  const j = JSON.parse(r.body) as { error: string | { message: string } };
  return typeof j.error === 'string' ? j.error : j.error.message;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('OIDC: JWT bearer tokens from a configured OpenID provider', () => {
  let s: Stack;
  let idp: TestProvider;
  let other: TestProvider;
  const tokens: string[] = [];
  const token = async (p: TestProvider, client: string) => {
    const t = await p.token(client);
    tokens.push(t);
    return t;
  };
  /** `body` null: a GET. */
  const send = (jwt: string, path = '/api/generate', body: string | null = generate('llama3')) =>
    hit(s.gw.url, body === null ? 'GET' : 'POST', path, { headers: { authorization: `Bearer ${jwt}`, ...(body === null ? {} : { 'content-type': 'application/json' }) }, ...(body === null ? {} : { body }) });

  before(async () => {
    idp = await startProvider([
      { id: 'ml-bot', groups: ['sales', 'ml-team'], name: 'Ml Bot' },
      { id: 'plat-bot', groups: 'platform' },
      { id: 'sales-bot', groups: ['sales', 'marketing'] },
      { id: 'ghost-bot', groups: ['ghosts'] },
      { id: 'lim-1', groups: ['limited'] },
      { id: 'lim-2', groups: ['limited'] },
      { id: 'foreign-aud', groups: ['ml-team'], audience: 'someone-else' },
    ]);
    other = await startProvider([{ id: 'ml-bot', groups: ['ml-team'] }]);
    s = await startStack({
      config: {
        limits: { auth_failures: { max: 0 } },
        auth: {
          oidc: [
            {
              issuer: idp.issuer, audience: 'gatehouse', claims: { subject: 'sub', name: 'preferred_username', groups: 'groups' }, jwks_min_refresh: '1s',
              rules: [{ group: 'ml-team', policy: 'ml' }, { group: 'platform', policy: 'plat' }, { group: 'ghosts', policy: 'no-such-policy' }, { group: 'limited', policy: 'lim' }],
            },
            // A provider that is not there: its tokens cannot be checked.
            { issuer: 'http://127.0.0.1:1', audience: 'gatehouse', rules: [{ group: 'ml-team', policy: 'ml' }] },
          ],
        },
      },
    });
    for (const args of [['ml', '--scopes', 'inference', '--models', 'llama3*'], ['plat', '--scopes', 'inference,models:read'], ['lim', '--scopes', 'inference', '--rpm', '2']]) {
      const r = s.cli(['policies', 'create', ...args]);
      assert.equal(r.code, 0, r.stderr);
    }
    await sleep(700);
  });
  after(async () => {
    await s?.close();
    await idp?.close();
    await other?.close();
  });

  it('discovers the provider and admits a token by its group\'s policy: models and scopes', async () => {
    const ml = await token(idp, 'ml-bot');
    assert.equal((await send(ml)).status, 200);
    assert.ok(idp.hits.includes('/.well-known/openid-configuration'), 'discovery was read');
    assert.ok(idp.hits.includes('/jwks'), 'the key set came from jwks_uri');
    assert.equal((await send(ml, '/api/generate', generate('qwen2.5:7b'))).status, 404, 'outside the ml policy\'s models: answered as missing');
    const tags = await send(ml, '/api/tags', null);
    assert.equal(tags.status, 403);
    assert.equal(tags.headers['x-gatehouse-error'], 'GW_ERR_SCOPE_MISSING');
    const plat = await token(idp, 'plat-bot');
    assert.equal((await send(plat, '/api/tags', null)).status, 200, 'a single-string groups claim maps too');
    assert.equal((await send(plat, '/api/generate', generate('qwen2.5:7b'))).status, 200);
  });

  it('the first matching rule wins: a second use of a cached token gives the same answer', async () => {
    const ml = await token(idp, 'ml-bot');
    for (let i = 0; i < 3; i++) assert.equal((await send(ml)).status, 200);
  });

  it('no matching rule → 403 naming the subject, issuer and groups; a rule naming a missing policy → 403 saying so', async () => {
    s.emu.reset();
    const r = await send(await token(idp, 'sales-bot'));
    assert.equal(r.status, 403, r.body);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_AUTH_JWT_NO_RULE');
    assert.equal(errorOf(r), `your identity (sub "sales-bot" from issuer ${idp.issuer}) has groups ["sales", "marketing"]; none maps to a policy on this gateway: ask the operator to add a rule for one of your groups under auth.oidc[].rules`);
    const g = await send(await token(idp, 'ghost-bot'));
    assert.equal(g.status, 403);
    assert.equal(g.headers['x-gatehouse-error'], 'GW_ERR_AUTH_JWT_POLICY_MISSING');
    assert.match(errorOf(g), /your group "ghosts" maps to policy "no-such-policy", which does not exist on this gateway/);
    assert.equal(s.emu.requests.length, 0);
  });

  const refused = async (jwt: string, status: number, code: string, message: RegExp) => {
    s.emu.reset();
    const r = await send(jwt);
    assert.equal(r.status, status, r.body);
    assert.equal(r.headers['x-gatehouse-error'], code, r.body);
    assert.match(errorOf(r), message);
    assert.equal(s.emu.requests.length, 0, 'nothing reached Ollama');
    return r;
  };
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (o: Record<string, unknown> = {}) => ({ iss: idp.issuer, aud: 'gatehouse', sub: 'ml-bot', groups: ['ml-team'], iat: now(), exp: now() + 300, ...o });

  it('a token for another audience is refused (a real token from the provider)', async () => {
    await refused(await token(idp, 'foreign-aud'), 401, 'GW_ERR_AUTH_JWT_AUDIENCE', /audience \(aud\) must include "gatehouse"/);
  });

  it('a token from an issuer that is not configured is refused, naming the accepted issuers', async () => {
    await refused(await token(other, 'ml-bot'), 401, 'GW_ERR_AUTH_JWT_ISSUER', new RegExp(`does not accept tokens from issuer "${other.issuer}"; accepted issuers: ${idp.issuer}, http://127.0.0.1:1`));
  });

  it('expired, not yet valid, issued in the future, without exp: each refused with its own code', async () => {
    await refused(await idp.sign(claims({ exp: now() - 120, iat: now() - 600 })), 401, 'GW_ERR_AUTH_JWT_EXPIRED', /has expired; sign in again/);
    await refused(await idp.sign(claims({ nbf: now() + 600 })), 401, 'GW_ERR_AUTH_JWT_NOT_YET_VALID', /not valid yet/);
    await refused(await idp.sign(claims({ iat: now() + 600 })), 401, 'GW_ERR_AUTH_JWT_NOT_YET_VALID', /in the future/);
    await refused(await idp.sign(claims({ exp: undefined })), 401, 'GW_ERR_AUTH_JWT_CLAIMS', /no expiry/);
    await refused(await idp.sign(claims({ aud: undefined })), 401, 'GW_ERR_AUTH_JWT_AUDIENCE', /must include "gatehouse"/);
    // Within the 60 s of clock skew, both ways: accepted.
    const r = await send(await idp.sign(claims({ exp: now() - 20, nbf: now() + 20 })));
    assert.equal(r.status, 200, r.body);
  });

  it('alg none and HS256 keyed with the provider\'s public key are refused before any key is looked up', async () => {
    const seg = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    await refused(`${seg({ alg: 'none', typ: 'JWT' })}.${seg(claims())}.`, 401, 'GW_ERR_AUTH_JWT_ALG', /signed with "none", which is never accepted/);
    const secret = new TextEncoder().encode(JSON.stringify(idp.publicJwk()));
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: idp.kid }).sign(secret);
    await refused(hs, 401, 'GW_ERR_AUTH_JWT_ALG', /HS256.*never accepted/);
  });

  it('kid injection, another issuer\'s kid, and jku / x5u / jwk headers never find a key', async () => {
    const trap = await startTrap();
    try {
      const attacker = await generateKeyPair('ES256', { extractable: true });
      const jwk = await exportJWK(attacker.publicKey);
      const forge = (header: Record<string, unknown>) => new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', ...header }).sign(attacker.privateKey);
      const sig = /signature does not verify with the signing keys/;
      await refused(await forge({ kid: '../../x' }), 401, 'GW_ERR_AUTH_JWT_SIGNATURE', sig);
      await refused(await forge({ kid: idp.kid }), 401, 'GW_ERR_AUTH_JWT_SIGNATURE', sig);
      await refused(await forge({ jwk }), 401, 'GW_ERR_AUTH_JWT_SIGNATURE', sig);
      await refused(await forge({ kid: 'attacker', jwk }), 401, 'GW_ERR_AUTH_JWT_SIGNATURE', sig);
      await refused(await forge({ kid: 'attacker', jku: `${trap.url}/jwks` }), 401, 'GW_ERR_AUTH_JWT_SIGNATURE', sig);
      await refused(await forge({ kid: 'attacker', x5u: `${trap.url}/cert.pem` }), 401, 'GW_ERR_AUTH_JWT_SIGNATURE', sig);
      // Signed by the other provider with its own kid, claiming to be from ours.
      await refused(await other.sign(claims()), 401, 'GW_ERR_AUTH_JWT_SIGNATURE', sig);
      assert.equal(trap.hits, 0, 'the gateway never fetched a jku or x5u');
    } finally {
      await trap.close();
    }
  });

  it('an issuer that cannot be reached answers 503 with Retry-After', async () => {
    const seg = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const r = await refused(`${seg({ alg: 'ES256', kid: 'k' })}.${seg(claims({ iss: 'http://127.0.0.1:1' }))}.${seg({ x: 1 })}`, 503, 'GW_ERR_AUTH_JWT_PROVIDER', /cannot be reached/);
    assert.equal(r.headers['retry-after'], '5');
  });

  it('key rollover: the provider switches signing keys and new tokens are accepted without a restart', async () => {
    const before = idp.kid;
    await idp.rotate();
    assert.notEqual(idp.kid, before);
    await sleep(1100); // jwks_min_refresh: 1s in this config
    const fresh = await token(idp, 'plat-bot');
    const r = await send(fresh);
    assert.equal(r.status, 200, r.body);
  });

  it('the ollama, openai and Anthropic SDKs work with a JWT as their key', async () => {
    const jwt = await token(idp, 'plat-bot');
    const ollama = new Ollama({ host: s.gw.url, headers: { Authorization: `Bearer ${jwt}` } });
    const g = await ollama.generate({ model: 'llama3', prompt: 'hi' });
    assert.ok((g as { response?: string }).response);
    const openai = new OpenAI({ baseURL: `${s.gw.url}/v1`, apiKey: jwt, maxRetries: 0 });
    const c = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(c.choices[0]?.message.content);
    // The Anthropic SDK sends its apiKey as x-api-key.
    const anthropic = new Anthropic({ baseURL: s.gw.url, apiKey: jwt, maxRetries: 0 });
    const m = await anthropic.messages.create({ model: 'llama3', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(m.type, 'message');
  });

  it('limits apply per identity: one identity past its rpm, another with the same policy still served', async () => {
    const a = await token(idp, 'lim-1');
    const b = await token(idp, 'lim-2');
    assert.equal((await send(a)).status, 200);
    assert.equal((await send(a)).status, 200);
    const third = await send(a);
    assert.equal(third.status, 429, third.body);
    // A new token of the same identity is the same principal: still limited.
    assert.equal((await send(await token(idp, 'lim-1'))).status, 429);
    assert.equal((await send(b)).status, 200);
  });

  it('forward-auth (GET /auth/verify) accepts a JWT, first seen there, through the suspended path', async () => {
    const jwt = await token(idp, 'plat-bot');
    const r = await hit(s.gw.url, 'GET', '/auth/verify', { headers: { authorization: `Bearer ${jwt}`, 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/api/chat' } });
    assert.equal(r.status, 200, r.body);
    assert.match(String(r.headers['x-gatehouse-principal-id']), /^oidc:[A-Za-z0-9_-]{22}$/);
    assert.equal(r.headers['x-gatehouse-principal'], `plat-bot @ ${idp.issuer}`);
    const no = await hit(s.gw.url, 'GET', '/auth/verify', { headers: { authorization: `Bearer ${await token(idp, 'sales-bot')}`, 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/api/chat' } });
    assert.equal(no.status, 403);
  });

  it('audit and usage record the issuer and subject; no token is stored or logged anywhere', async () => {
    await sleep(1500); // the audit writer flushes in batches
    const audit = s.cli(['audit', '--json']);
    assert.equal(audit.code, 0, audit.stderr);
    const rows = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const ml = rows.filter((r) => r.principal_name === `Ml Bot (ml-bot @ ${idp.issuer})`);
    assert.ok(ml.length > 0, audit.stdout.slice(0, 500));
    assert.ok(ml.every((r) => typeof r.principal_id === 'string' && (r.principal_id as string).startsWith('oidc:')));
    const usage = s.cli(['usage']);
    assert.equal(usage.code, 0, usage.stderr);
    assert.match(usage.stdout, /ml-bot @ http:\/\/127\.0\.0\.1/);
    const everything = [s.gw.logs(), audit.stdout, usage.stdout, ...readdirSync(s.dataDir).map((f) => { try { return readFileSync(join(s.dataDir, f)).toString('latin1'); } catch { return ''; } })].join('\n');
    assert.ok(tokens.length > 10);
    for (const t of tokens) {
      assert.ok(!everything.includes(t), 'a token was found in logs, audit or the data dir');
      assert.ok(!everything.includes(t.split('.')[2]!), 'a token signature was found');
    }
  });
});

describe('OIDC: a refused JWT counts as a failed authentication', () => {
  let s: Stack;
  let idp: TestProvider;
  before(async () => {
    idp = await startProvider([{ id: 'nobody', groups: ['none'] }]);
    s = await startStack({
      config: {
        limits: { auth_failures: { max: 3, window: '1m' } },
        auth: { oidc: [{ issuer: idp.issuer, audience: 'gatehouse', rules: [{ group: 'ml', policy: 'ml' }] }, { issuer: 'http://127.0.0.1:1', audience: 'gatehouse', rules: [{ group: 'ml', policy: 'ml' }] }] },
      },
    });
  });
  after(async () => {
    await s?.close();
    await idp?.close();
  });

  it('an unreachable provider (503) is not counted; bad tokens are, and then the address gets 429', async () => {
    const now = Math.floor(Date.now() / 1000);
    const seg = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const down = `${seg({ alg: 'ES256', kid: 'k' })}.${seg({ iss: 'http://127.0.0.1:1', aud: 'gatehouse', sub: 'x', exp: now + 300 })}.${seg({ x: 1 })}`;
    const send = (jwt: string) => hit(s.gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${jwt}` } });
    for (let i = 0; i < 5; i++) assert.equal((await send(down)).status, 503);
    const expired = await idp.sign({ iss: idp.issuer, aud: 'gatehouse', sub: 'x', groups: ['ml'], exp: now - 300 });
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) codes.push(String((await send(expired)).headers['x-gatehouse-error']));
    assert.deepEqual(codes, ['GW_ERR_AUTH_JWT_EXPIRED', 'GW_ERR_AUTH_JWT_EXPIRED', 'GW_ERR_AUTH_JWT_EXPIRED', 'GW_ERR_AUTH_TOO_MANY_FAILURES', 'GW_ERR_AUTH_TOO_MANY_FAILURES']);
    const norule = await send(await idp.token('nobody'));
    assert.equal(norule.status, 429, 'a 403 for no matching rule counts too');
  });
});
