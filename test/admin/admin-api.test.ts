import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_ROUTES } from '../../src/admin/routes.js';
import { send } from '../helpers/http.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';
import { OpenApiCheck } from './openapi-check.js';

/**
 * The admin API end to end, on a real gateway process (admin.listen: main): every answer, success
 * or error, is checked against the OpenAPI document the gateway serves.
 */

let stack: Stack;
let root: { id: string; key: string };
let user: { id: string; key: string };
let doc: OpenApiCheck;

interface Answer {
  status: number;
  json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Record<string, string | string[] | undefined>;
}

/** An admin request, its answer checked against the document. */
async function admin(method: string, path: string, o: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  const key = o.key === undefined ? root.key : o.key;
  if (key) headers.authorization = `Bearer ${key}`;
  const body = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const r = await send(stack.gw.url, method, path, { headers, body });
  doc?.check(method, path, r.status, r.body);
  return { status: r.status, json: JSON.parse(r.body), headers: r.headers };
}

const tags = (key: string) => send(stack.gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${key}` } });

before(async () => {
  // The matrix below makes one failed authentication per route: room for them, then the limit is shown to count them.
  stack = await startStack({ config: { admin: { listen: 'main' }, limits: { auth_failures: { max: 40, window: '10m' } } } });
  root = await stack.createKey('root', ['--scopes', 'admin'], { wait: false });
  user = await stack.createKey('user');
  const r = await send(stack.gw.url, 'GET', '/admin/v1/openapi.json', { headers: { authorization: `Bearer ${root.key}` } });
  assert.equal(r.status, 200);
  doc = new OpenApiCheck(JSON.parse(r.body));
  doc.check('GET', '/admin/v1/openapi.json', r.status, r.body);
});
after(async () => {
  await stack?.close();
});

describe('admin API: the document', () => {
  it('is OpenAPI 3.1 and has an operation for every admin route, with its route id', async () => {
    const d = (await admin('GET', '/admin/v1/openapi.json')).json;
    assert.equal(d.openapi, '3.1.0');
    for (const r of ADMIN_ROUTES) assert.equal(d.paths[r.path][r.method.toLowerCase()].operationId, r.id);
  });
});

describe('admin API: keys', () => {
  it('create returns the secret once; it works; list and show never carry a hash or secret', async () => {
    const c = await admin('POST', '/admin/v1/keys', { body: { name: 'svc', scopes: ['inference', 'models:read'], limits: { rpm: 100 } } });
    assert.equal(c.status, 201);
    assert.match(c.json.secret, /^gatehouse_/);
    assert.equal(c.json.key.name, 'svc');
    assert.equal(c.json.key.limits.rpm, 100);
    await settle();
    assert.equal((await tags(c.json.secret)).status, 200);
    const list = await admin('GET', '/admin/v1/keys');
    const text = JSON.stringify(list.json);
    assert.ok(!text.includes(c.json.secret) && !text.includes('"hash"'));
    // The same key by id and by name (its last-used time may be written between the two reads).
    const byId = (await admin('GET', `/admin/v1/keys/${c.json.key.id}`)).json;
    const byName = (await admin('GET', '/admin/v1/keys/svc')).json;
    assert.deepEqual({ ...byId, lastUsedAt: null }, { ...byName, lastUsedAt: null });
  });

  it('admin is never a default scope, and a key with only admin cannot run models', async () => {
    const c = await admin('POST', '/admin/v1/keys', { body: { name: 'plain' } });
    assert.deepEqual(c.json.key.scopes, ['inference', 'models:read']);
    const r = await tags(root.key);
    assert.equal(r.status, 403);
    assert.match(JSON.parse(r.body).error, /lacks the "models:read" scope/);
  });

  it('update changes what it is given and records who did it; revoke refuses the key', async () => {
    const c = await admin('POST', '/admin/v1/keys', { body: { name: 'temp' } });
    const id = c.json.key.id as string;
    const u = await admin('PATCH', `/admin/v1/keys/${id}`, { body: { name: 'temp2', scopes: ['models:read'] } });
    assert.equal(u.status, 200);
    assert.equal(u.json.name, 'temp2');
    assert.deepEqual(u.json.scopes, ['models:read']);
    const ev = await admin('GET', `/admin/v1/audit/admin?key=${id}`);
    assert.deepEqual(ev.json.events.map((e: { action: string }) => e.action), ['key.create', 'key.update']);
    assert.ok(ev.json.events.every((e: { actor: string }) => e.actor === `api:root/${root.id}`));
    const r = await admin('POST', `/admin/v1/keys/${id}/revoke`);
    assert.equal(r.json.status, 'revoked');
    await settle();
    assert.equal((await tags(c.json.secret)).status, 401);
  });

  it('a name taken, a policy that does not exist, unknown fields and bad values are refused with a code', async () => {
    assert.equal((await admin('POST', '/admin/v1/keys', { body: { name: 'user' } })).json.error.code, 'GW_ERR_ADMIN_CONFLICT');
    assert.equal((await admin('POST', '/admin/v1/keys', { body: { name: 'x1', policy: 'nope' } })).json.error.code, 'GW_ERR_ADMIN_NOT_FOUND');
    const unknown = await admin('POST', '/admin/v1/keys', { body: { name: 'x2', hash: 'ab' } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error.message, /unrecognized key.*hash|hash/i);
    assert.equal((await admin('POST', '/admin/v1/keys', { body: { name: 'x3', scopes: ['root'] } })).status, 400);
    assert.equal((await admin('GET', '/admin/v1/keys/key_missing')).status, 404);
    assert.equal((await admin('PATCH', '/admin/v1/keys/user', { body: { limits: { rpm: -1 } } })).status, 400);
    assert.match((await admin('POST', '/admin/v1/keys', { body: { name: 'x4', expiresAt: 1000 } })).json.error.message, /not in the future/);
  });
});

describe('admin API: rotation', () => {
  it('old and new secrets both work during the overlap; afterwards the old one is refused as rotated', async () => {
    const c = await admin('POST', '/admin/v1/keys', { body: { name: 'rot' } });
    await settle();
    const old = c.json.secret as string;
    const r = await admin('POST', `/admin/v1/keys/${c.json.key.id}/rotate`, { body: { overlap: '2s' } });
    assert.equal(r.status, 200);
    assert.equal(r.json.key.id, c.json.key.id);
    assert.notEqual(r.json.secret, old);
    assert.equal(r.json.key.rotation.previousValidUntil - r.json.key.rotation.rotatedAt, 2000);
    await settle();
    assert.equal((await tags(old)).status, 200);
    assert.equal((await tags(r.json.secret)).status, 200);
    await new Promise((res) => setTimeout(res, Math.max(0, r.json.key.rotation.previousValidUntil - Date.now()) + 50));
    const refused = await tags(old);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['x-gatehouse-error'], 'GW_ERR_AUTH_ROTATED');
    assert.equal((await tags(r.json.secret)).status, 200);
  });

  it('overlap 0 stops the old secret at once; a revoked key and a bad overlap are refused', async () => {
    const c = await admin('POST', '/admin/v1/keys', { body: { name: 'rot0' } });
    const r = await admin('POST', `/admin/v1/keys/${c.json.key.id}/rotate`, { body: { overlap: '0' } });
    await settle();
    assert.equal((await tags(c.json.secret)).status, 401);
    assert.equal((await tags(r.json.secret)).status, 200);
    assert.equal((await admin('POST', `/admin/v1/keys/${c.json.key.id}/rotate`, { body: { overlap: 'soon' } })).status, 400);
    await admin('POST', `/admin/v1/keys/${c.json.key.id}/revoke`);
    const again = await admin('POST', `/admin/v1/keys/${c.json.key.id}/rotate`, { body: {} });
    assert.equal(again.status, 409);
    assert.match(again.json.error.message, /revoked/);
  });
});

describe('admin API: policies, usage, audit, nodes', () => {
  it('policies: create, list, show, update, delete; in use is refused', async () => {
    const p = await admin('POST', '/admin/v1/policies', { body: { name: 'team', scopes: ['inference'], limits: { rpm: 5 } } });
    assert.equal(p.status, 201);
    assert.ok((await admin('GET', '/admin/v1/policies')).json.policies.some((x: { id: string }) => x.id === p.json.id));
    assert.equal((await admin('GET', '/admin/v1/policies/team')).json.id, p.json.id);
    assert.equal((await admin('PATCH', `/admin/v1/policies/${p.json.id}`, { body: { models: ['llama3*'] } })).json.models[0], 'llama3*');
    const k = await admin('POST', '/admin/v1/keys', { body: { name: 'member', policy: 'team' } });
    assert.equal(k.json.key.policyId, p.json.id);
    assert.equal((await admin('POST', '/admin/v1/keys', { body: { name: 'member2', policy: 'team', scopes: ['inference'] } })).status, 400);
    assert.equal((await admin('DELETE', `/admin/v1/policies/${p.json.id}`)).status, 409);
    await admin('POST', `/admin/v1/keys/${k.json.key.id}/revoke`);
    const d = await admin('DELETE', '/admin/v1/policies/team');
    assert.equal(d.status, 200);
    assert.ok(d.json.deletedAt > 0);
  });

  it('usage and audit: the reports, audit paginated with afterId/limit', async () => {
    for (let i = 0; i < 3; i++) await tags(user.key);
    await new Promise((res) => setTimeout(res, 1500)); // the audit writer flushes in batches
    const u = await admin('GET', `/admin/v1/usage?by=key&since=${Date.now() - 3_600_000}`);
    assert.ok(u.json.rows.some((r: { group: string; requests: number }) => r.group === user.id && r.requests >= 3));
    assert.equal((await admin('GET', '/admin/v1/usage?by=week')).status, 400);
    const p1 = await admin('GET', '/admin/v1/audit?limit=2');
    assert.equal(p1.json.records.length, 2);
    const p2 = await admin('GET', `/admin/v1/audit?limit=2&afterId=${p1.json.nextAfterId}`);
    assert.ok(p2.json.records[0].id > p1.json.records[1].id);
    const mine = await admin('GET', `/admin/v1/audit?key=user&limit=100`);
    assert.ok(mine.json.records.every((r: { principalId: string }) => r.principalId === user.id));
    const adminReqs = await admin('GET', `/admin/v1/audit?key=root&limit=1000`);
    assert.ok(adminReqs.json.records.some((r: { route: string }) => r.route === 'admin.keys.create'), 'admin requests are audited with their route id');
    assert.equal((await admin('GET', '/admin/v1/audit?limit=2&limit=3')).status, 400);
  });

  it('usage: by node, and as CSV (text/csv, documented) with a header row', async () => {
    const since = Date.now() - 3_600_000;
    const n = await admin('GET', `/admin/v1/usage?by=node&since=${since}`);
    assert.equal(n.status, 200);
    assert.equal(n.json.by, 'node');
    assert.deepEqual(n.json.rows.map((r: { group: unknown }) => r.group), [null]); // one upstream: no node
    const c = await send(stack.gw.url, 'GET', `/admin/v1/usage?by=key&format=csv&since=${since}`, { headers: { authorization: `Bearer ${root.key}` } });
    assert.equal(c.status, 200);
    assert.match(String(c.headers['content-type']), /^text\/csv/);
    const lines = c.body.split('\n');
    assert.equal(lines[0], 'group,name,requests,refused,prompt_tokens,completion_tokens,p50_ms,p95_ms');
    assert.ok(lines.some((l) => l.startsWith(`${user.id},user,`)), c.body);
    const d = (await admin('GET', '/admin/v1/openapi.json')).json;
    assert.ok(d.paths['/admin/v1/usage'].get.responses['200'].content['text/csv']);
  });

  it('usage/series: whole buckets, one point each, TTFT percentiles; refused when too many points or backwards', async () => {
    for (let i = 0; i < 2; i++) await tags(user.key);
    await new Promise((res) => setTimeout(res, 1500));
    const until = Date.now() + 1;
    const s = await admin('GET', `/admin/v1/usage/series?since=${until - 3_600_000}&until=${until}&by=key`);
    assert.equal(s.status, 200);
    assert.equal(s.json.grain, 'minute'); // 60 minutes: the finest grain within 500 points
    assert.equal(s.json.since % 60_000, 0);
    assert.equal(s.json.until % 60_000, 0);
    const mine = s.json.series.find((x: { group: string }) => x.group === user.id);
    assert.ok(mine, JSON.stringify(s.json.series.map((x: { group: string }) => x.group)));
    assert.equal(mine.label, 'user');
    assert.equal(mine.points.length, (s.json.until - s.json.since) / 60_000);
    assert.ok(mine.points.reduce((n: number, p: { requests: number }) => n + p.requests, 0) >= 2);
    const day = await admin('GET', `/admin/v1/usage/series?since=${until - 86_400_000}&until=${until}&by=none`);
    assert.deepEqual([day.json.grain, day.json.series.length, day.json.series[0].label], ['hour', 1, 'all']);
    assert.equal(day.json.series[0].points.length, 25);
    const byDefault = await admin('GET', '/admin/v1/usage/series?model=nothing-here&node=n1');
    assert.equal(byDefault.status, 200);
    assert.deepEqual(byDefault.json.series, []);
    const many = await admin('GET', `/admin/v1/usage/series?since=${until - 30 * 86_400_000}&until=${until}&grain=minute`);
    assert.equal(many.status, 400);
    assert.match(many.json.error.message, /more than 2000 points per series; ask for a coarser grain/);
    assert.equal((await admin('GET', `/admin/v1/usage/series?since=${until}&until=${until - 1}`)).status, 400);
    assert.equal((await admin('GET', '/admin/v1/usage/series?grain=week')).status, 400);
    assert.equal((await admin('GET', '/admin/v1/usage/series?key=nobody')).status, 404);
  });

  it('nodes: 404 without upstreams', async () => {
    const n = await admin('GET', '/admin/v1/nodes');
    assert.equal(n.status, 404);
    assert.equal(n.json.error.code, 'GW_ERR_ADMIN_NOT_FOUND');
  });
});

describe('admin API: requests it refuses', () => {
  it('no route, wrong method, not JSON, wrong type, too large, a body where none is taken', async () => {
    assert.equal((await send(stack.gw.url, 'GET', '/admin/v1/nope', { headers: { authorization: `Bearer ${root.key}` } })).status, 404);
    assert.equal((await send(stack.gw.url, 'GET', '/admin/v1/keys/', { headers: { authorization: `Bearer ${root.key}` } })).status, 404);
    assert.equal((await send(stack.gw.url, 'GET', '/admin/v1/keys/%75ser', { headers: { authorization: `Bearer ${root.key}` } })).status, 404);
    const put = await send(stack.gw.url, 'DELETE', '/admin/v1/keys', { headers: { authorization: `Bearer ${root.key}` } });
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, 'GET, POST');
    assert.equal(JSON.parse(put.body).error.code, 'GW_ERR_METHOD_NOT_ALLOWED');
    assert.equal((await admin('POST', '/admin/v1/keys', { raw: '{"name":' })).json.error.code, 'GW_ERR_BODY_INVALID_JSON');
    assert.equal((await admin('POST', '/admin/v1/keys', { raw: '{"name":"a"}', headers: { 'content-type': 'text/plain' } })).status, 415);
    assert.equal((await admin('POST', '/admin/v1/keys', { raw: JSON.stringify({ name: 'x'.repeat(70_000) }) })).status, 413);
    assert.equal((await admin('GET', '/admin/v1/keys', { raw: '{}' })).status, 400);
  });
});

/** A request each admin route accepts, naming the `user` key or a policy where it takes an id. */
function sample(r: (typeof ADMIN_ROUTES)[number], policyId: string): { path: string; body?: unknown } {
  const id = r.path.includes('/policies/') ? policyId : 'user';
  const path = r.path.replace('{id}', id);
  const bodies: Record<string, unknown> = {
    'admin.keys.create': { name: 'matrix' }, 'admin.keys.update': { name: 'matrix' }, 'admin.keys.revoke': {}, 'admin.keys.rotate': { overlap: '0' },
    'admin.policies.create': { name: 'matrix' }, 'admin.policies.update': { name: 'matrix' },
    'admin.me.keys.create': { name: 'matrix' }, 'admin.me.keys.revoke': {},
  };
  return { path, ...(r.id in bodies ? { body: bodies[r.id] } : {}) };
}

describe('admin API: every route, generated from the route list, without its scope', () => {
  it('without credentials 401, with a key lacking admin (or keys:self for /me/keys) 403; nothing changed', async () => {
    const p = await admin('POST', '/admin/v1/policies', { body: { name: 'matrix-target' } });
    // Last-used times move with every authenticated request (the 403s too): not a change anyone made.
    const keys = async () => (await admin('GET', '/admin/v1/keys')).json.keys.map((k: Record<string, unknown>) => ({ ...k, lastUsedAt: null }));
    const state = async () => JSON.stringify([await keys(), (await admin('GET', '/admin/v1/policies?deleted=true')).json, (await admin('GET', '/admin/v1/audit/admin?limit=5000')).json]);
    const before = await state();
    for (const r of ADMIN_ROUTES) {
      const s = sample(r, p.json.id);
      const none = await admin(r.method, s.path, { key: null, body: s.body });
      assert.equal(none.status, 401, `${r.id} without credentials`);
      const weak = await admin(r.method, s.path, { key: user.key, body: s.body });
      assert.equal(weak.status, 403, `${r.id} without the ${r.scope} scope`);
      assert.equal(weak.json.error.code, 'GW_ERR_SCOPE_MISSING');
    }
    assert.equal(await state(), before);
  });

  it('failed authentications on admin routes count against the address: past the limit, 429', async () => {
    let status = 0;
    for (let i = 0; i < 45 && status !== 429; i++) status = (await admin('GET', '/admin/v1/keys', { key: 'gatehouse_wrong' })).status;
    assert.equal(status, 429);
  });

  it('every route and every answer seen was checked against the document', () => {
    for (const r of ADMIN_ROUTES) assert.ok(doc.seen.get(r.id)?.size, `${r.id} was never checked`);
  });
});
