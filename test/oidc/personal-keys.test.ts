import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { send } from '../helpers/http.js';
import { startProvider, type TestProvider } from '../helpers/oidc.js';
import { settle, startStack, type GatewayProcess, type Stack } from '../helpers/stack.js';
import { OpenApiCheck } from '../admin/openapi-check.js';

/**
 * Issue #21 item 4, through a running gateway and a real OpenID provider: an identity with
 * `keys:self` creates, lists and revokes its own personal keys (/admin/v1/me/keys); a personal key
 * is bounded by its owner's policy, never manages anything, is invisible to everyone else, and stops
 * working when no auth.oidc rule gives its policy any more. Every answer is checked against the
 * gateway's OpenAPI document.
 */

interface Answer {
  status: number;
  code: string | undefined;
  json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

let s: Stack;
let idp: TestProvider;
let doc: OpenApiCheck;
let root: { id: string; key: string };
const jwt: Record<string, string> = {};

async function call(gw: GatewayProcess, method: string, path: string, credential: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${credential}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await send(gw.url, method, path, { headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (path.startsWith('/admin/')) doc.check(method, path, r.status, r.body);
  return { status: r.status, code: r.headers['x-gatehouse-error'] as string | undefined, json: r.body ? JSON.parse(r.body) : {} };
}
const admin = (method: string, path: string, credential: string, body?: unknown) => call(s.gw, method, path, credential, body);
const generate = (gw: GatewayProcess, key: string, model = 'llama3') => call(gw, 'POST', '/api/generate', key, { model, prompt: 'hi', stream: false });

before(async () => {
  idp = await startProvider([
    { id: 'alice', groups: ['ml-team'] },
    { id: 'bob', groups: ['ml-team'] },
    { id: 'carol', groups: ['readers'] },
    { id: 'pat', groups: ['platform'] },
  ]);
  s = await startStack({
    config: {
      admin: { listen: 'main' },
      routes: { manage: true },
      auth: { oidc: [{ issuer: idp.issuer, audience: 'gatehouse', rules: [{ group: 'ml-team', policy: 'ml' }, { group: 'readers', policy: 'readers' }, { group: 'platform', policy: 'platform' }] }] },
    },
  });
  for (const args of [['ml', '--scopes', 'inference,keys:self', '--models', 'llama3*'], ['readers', '--scopes', 'inference'], ['platform', '--scopes', 'inference,models:read,models:manage,admin,keys:self']]) {
    const r = s.cli(['policies', 'create', ...args]);
    assert.equal(r.code, 0, r.stderr);
  }
  root = await s.createKey('root', ['--scopes', 'admin,keys:self']);
  for (const who of ['alice', 'bob', 'carol', 'pat']) jwt[who] = await idp.token(who);
  const d = await send(s.gw.url, 'GET', '/admin/v1/openapi.json', { headers: { authorization: `Bearer ${root.key}` } });
  doc = new OpenApiCheck(JSON.parse(d.body));
});
after(async () => {
  await s?.close();
  await idp?.close();
});

describe('self-service keys: /admin/v1/me/keys', () => {
  let laptop: { id: string; secret: string };

  it('an identity with keys:self creates a key: shown once, owned by its issuer and subject, under its policy, expiring in 90 days', async () => {
    const t0 = Date.now();
    const c = await admin('POST', '/admin/v1/me/keys', jwt.alice!, { name: 'laptop' });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    assert.match(c.json.secret, /^gatehouse_/);
    const k = c.json.key;
    assert.equal(k.owner.issuer, idp.issuer);
    assert.equal(k.owner.subject, 'alice');
    assert.match(k.owner.id, /^oidc:/);
    const ml = s.cli(['policies', 'show', 'ml', '--json']);
    assert.equal(k.policyId, (JSON.parse(ml.stdout) as { id: string }).id);
    assert.deepEqual(k.scopes, []);
    assert.ok(Math.abs(k.expiresAt - (t0 + 90 * 86_400_000)) < 60_000, `expires at ${new Date(k.expiresAt).toISOString()}`);
    laptop = { id: k.id, secret: c.json.secret };
    const list = await admin('GET', '/admin/v1/me/keys', jwt.alice!);
    assert.deepEqual(list.json.keys.map((x: { id: string }) => x.id), [k.id]);
    assert.ok(!JSON.stringify(list.json).includes(c.json.secret), 'the secret is shown once, in the creation answer only');
    // The operator sees it, with its owner.
    const all = await admin('GET', '/admin/v1/keys', root.key);
    assert.equal(all.json.keys.find((x: { id: string }) => x.id === k.id).owner.subject, 'alice');
  });

  it('the key is bounded by the policy: its models and scopes, and never admin or keys:self', async () => {
    await settle();
    assert.equal((await generate(s.gw, laptop.secret)).status, 200);
    const other = await generate(s.gw, laptop.secret, 'mistral');
    assert.equal(other.status, 404, 'a model outside the policy is answered as missing');
    const tags = await call(s.gw, 'GET', '/api/tags', laptop.secret);
    assert.equal(tags.status, 403);
    const mine = await admin('POST', '/admin/v1/me/keys', laptop.secret, { name: 'from-a-key' });
    assert.equal(mine.status, 403, "a personal key cannot make keys, though its owner's policy has keys:self");
    assert.equal(mine.code, 'GW_ERR_SCOPE_MISSING');
  });

  it('an identity whose policy has admin and models:manage still gets a personal key with neither', async () => {
    const c = await admin('POST', '/admin/v1/me/keys', jwt.pat!, { name: 'ci' });
    assert.equal(c.status, 201);
    await settle();
    assert.equal((await admin('GET', '/admin/v1/keys', jwt.pat!)).status, 200, 'the identity itself is an admin');
    const k = await admin('GET', '/admin/v1/keys', c.json.secret);
    assert.equal(k.status, 403);
    assert.equal(k.code, 'GW_ERR_SCOPE_MISSING');
    assert.match(k.json.error.message, /lacks the "admin:read" scope needed for GET \/admin\/v1\/keys: a personal key never has an admin scope, keys:self or models:manage; use your sign-in token/);
    assert.equal((await call(s.gw, 'GET', '/api/tags', c.json.secret)).status, 200, 'the policy\'s other scopes hold');
    // Management on the nodes: the identity may copy a model, its personal key may not, and nothing reaches Ollama.
    assert.equal((await call(s.gw, 'POST', '/api/copy', jwt.pat!, { source: 'llama3', destination: 'llama3-copy' })).status, 200, 'the identity itself manages models');
    const before = s.emu.requests.length;
    const copy = await call(s.gw, 'POST', '/api/copy', c.json.secret, { source: 'llama3', destination: 'llama3-leak' });
    assert.equal(copy.status, 403);
    assert.equal(copy.code, 'GW_ERR_SCOPE_MISSING');
    assert.match(copy.json.error, /lacks the "models:manage" scope needed for .*: a personal key never has an admin scope, keys:self or models:manage/);
    assert.equal(s.emu.requests.length, before, 'nothing was forwarded');
  });

  it('others neither see nor revoke it: 404 as if absent', async () => {
    const list = await admin('GET', '/admin/v1/me/keys', jwt.bob!);
    assert.deepEqual(list.json.keys, []);
    for (const ref of [laptop.id, 'laptop']) {
      const r = await admin('POST', `/admin/v1/me/keys/${ref}/revoke`, jwt.bob!, {});
      assert.equal(r.status, 404);
      assert.equal(r.code, 'GW_ERR_ADMIN_NOT_FOUND');
    }
    // An operator's key is not anyone's personal key either.
    assert.equal((await admin('POST', `/admin/v1/me/keys/${root.id}/revoke`, jwt.alice!, {})).status, 404);
    assert.equal((await generate(s.gw, laptop.secret)).status, 200, 'still working');
  });

  it('refuses what it must: no keys:self, a key instead of an identity, a name taken, an expiry too far, an unknown field', async () => {
    const carol = await admin('POST', '/admin/v1/me/keys', jwt.carol!, { name: 'x' });
    assert.equal(carol.status, 403);
    assert.equal(carol.code, 'GW_ERR_SCOPE_MISSING');
    assert.match(carol.json.error.message, /^your identity \("carol @ http:\/\/127\.0\.0\.1:\d+"\) lacks the "keys:self" scope needed for POST \/admin\/v1\/me\/keys; its scopes come from policy pol_\w+: the operator can add it with: gatehouse policies update pol_\w+ --scopes inference,keys:self$/);
    const plainKey = await admin('GET', '/admin/v1/me/keys', (await s.createKey('plain')).key);
    assert.equal(plainKey.status, 403);
    assert.match(plainKey.json.error.message, /personal keys are made by people signed in with their identity provider/);
    const byKey = await admin('POST', '/admin/v1/me/keys', root.key, { name: 'x' });
    assert.equal(byKey.status, 403);
    assert.match(byKey.json.error.message, /personal keys are made by people signed in with their identity provider/);
    const dup = await admin('POST', '/admin/v1/me/keys', jwt.alice!, { name: 'laptop' });
    assert.equal(dup.status, 409);
    assert.match(dup.json.error.message, /you already have a key named "laptop"/);
    const far = await admin('POST', '/admin/v1/me/keys', jwt.alice!, { name: 'forever', expiresAt: Date.now() + 400 * 86_400_000 });
    assert.equal(far.status, 400);
    assert.match(far.json.error.message, /one year at most/);
    const grants = await admin('POST', '/admin/v1/me/keys', jwt.alice!, { name: 'wide', scopes: ['admin'] });
    assert.equal(grants.status, 400, 'a personal key takes no grants of its own');
    assert.deepEqual((await admin('GET', '/admin/v1/me/keys', jwt.alice!)).json.keys.length, 1, 'nothing was created');
  });

  it('removing the rule that gives the policy disables the key (another gateway started with that config); revoking ends it everywhere', async () => {
    const cfg = parse(readFileSync(s.configFile, 'utf8')) as { auth: { oidc: { rules: { group: string }[] }[] } };
    cfg.auth.oidc[0]!.rules = cfg.auth.oidc[0]!.rules.filter((r) => r.group !== 'ml-team');
    writeFileSync(s.configFile, stringify(cfg));
    const gw2 = await s.startReplica();
    s.emu.reset();
    const off = await generate(gw2, laptop.secret);
    assert.equal(off.status, 401);
    assert.equal(off.code, 'GW_ERR_AUTH_PERSONAL_KEY_DISABLED');
    assert.match(off.json.error, /this personal key \("laptop"\) is disabled: its policy "ml" is no longer given by any rule of/);
    assert.equal(s.emu.requests.length, 0, 'nothing reached Ollama');
    assert.equal((await generate(s.gw, laptop.secret)).status, 200, 'the gateway still running with the rule accepts it');

    const r = await admin('POST', '/admin/v1/me/keys/laptop/revoke', jwt.alice!, {});
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'revoked');
    await settle();
    const gone = await generate(s.gw, laptop.secret);
    assert.equal(gone.status, 401);
    assert.equal(gone.code, 'GW_ERR_AUTH_REVOKED');
    const trail = await admin('GET', `/admin/v1/audit/admin?key=${laptop.id}`, root.key);
    const mine = trail.json.events.map((e: { action: string; actor: string }) => `${e.action} ${e.actor}`);
    assert.equal(mine.length, 2, JSON.stringify(mine));
    for (const line of mine) assert.match(line, /^key\.(create|revoke) api:alice @ http:\/\/127\.0\.0\.1:\d+\/oidc:/);
  });
});
