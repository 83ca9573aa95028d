import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { OpenApiCheck } from '../admin/openapi-check.js';
import { send, type RawResponse } from '../helpers/http.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';

/**
 * The console's sessions (issue #22 item 1), over HTTP against a real gateway: an admin key
 * exchanged once for a server-side session; the cookie's attributes; the session authenticating
 * the admin API, with a CSRF token on every change; roles from the admin scopes; sign-out, idle
 * and absolute ends, and a revoked key ending its sessions; the page's security headers.
 */

let s: Stack;
const keys: Record<string, { id: string; key: string }> = {};

before(async () => {
  s = await startStack({ config: { admin: { listen: 'main' }, limits: { auth_failures: { max: 0 } } } });
  keys.viewer = await s.createKey('viewer', ['--scopes', 'admin:read'], { wait: false });
  keys.operator = await s.createKey('operator', ['--scopes', 'admin:keys'], { wait: false });
  keys.root = await s.createKey('root', ['--scopes', 'admin'], { wait: false });
  keys.user = await s.createKey('user', ['--scopes', 'inference'], { wait: false });
  await settle(1200);
});
after(async () => {
  await s?.close();
});

const json = (r: RawResponse) => JSON.parse(r.body) as Record<string, any>;
const cookieOf = (r: RawResponse): string => {
  const set = ([] as string[]).concat(r.headers['set-cookie'] ?? []);
  const c = set.find((x) => x.startsWith('gatehouse_console='));
  assert.ok(c, `a session cookie in ${JSON.stringify(set)}`);
  return c.split(';')[0]!;
};
async function signIn(key: string): Promise<{ cookie: string; csrf: string; body: Record<string, any>; res: RawResponse }> {
  const res = await send(s.gw.url, 'POST', '/console/api/session', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
  assert.equal(res.status, 201, res.body);
  const body = json(res);
  return { cookie: cookieOf(res), csrf: body.csrf, body, res };
}
const get = (path: string, cookie?: string) => send(s.gw.url, 'GET', path, { headers: cookie ? { cookie } : {} });
const post = (path: string, cookie: string, body: unknown, csrf?: string) =>
  send(s.gw.url, 'POST', path, { headers: { cookie, 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) }, body: JSON.stringify(body) });

describe('console sessions', () => {
  it('an admin key is exchanged once for a session: HttpOnly, SameSite=Strict cookie holding no key; the role from its scopes', async () => {
    const v = await signIn(keys.viewer!.key);
    const set = ([] as string[]).concat(v.res.headers['set-cookie'] ?? []).join('\n');
    assert.match(set, /gatehouse_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200/);
    assert.doesNotMatch(set, /Secure/, 'plain http here: Secure only under TLS');
    assert.ok(!set.includes(keys.viewer!.key) && !v.res.body.includes(keys.viewer!.key), 'the key is not in the cookie or the answer');
    assert.equal(v.body.role, 'viewer');
    assert.equal(v.body.principal.name, 'viewer');
    assert.deepEqual(v.body.principal.scopes, ['admin:read']);
    assert.match(v.body.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(v.body.idleTimeoutMs, 30 * 60_000);
    const again = await get('/console/api/session', v.cookie);
    assert.equal(again.status, 200);
    assert.equal(json(again).csrf, v.body.csrf);
    assert.equal((await signIn(keys.operator!.key)).body.role, 'operator');
    assert.equal((await signIn(keys.root!.key)).body.role, 'admin');
  });

  it('refuses a key without an admin scope (403), a wrong key (401), and answers 401 without a session', async () => {
    const noAdmin = await send(s.gw.url, 'POST', '/console/api/session', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: keys.user!.key }) });
    assert.equal(noAdmin.status, 403);
    assert.equal(json(noAdmin).error.code, 'GW_ERR_CONSOLE_SIGN_IN');
    assert.match(json(noAdmin).error.message, /has no admin scope: the console needs admin:read/);
    assert.equal(noAdmin.headers['set-cookie'], undefined);
    const wrong = await send(s.gw.url, 'POST', '/console/api/session', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'gatehouse_nope' }) });
    assert.equal(wrong.status, 401);
    const none = await get('/console/api/session');
    assert.equal(none.status, 401);
    assert.equal(json(none).error.code, 'GW_ERR_CONSOLE_SESSION');
    const forged = await get('/console/api/session', 'gatehouse_console=' + 'A'.repeat(43));
    assert.equal(forged.status, 401);
  });

  it('the session authenticates the admin API; a change without X-CSRF-Token is refused and changes nothing', async () => {
    const op = await signIn(keys.operator!.key);
    assert.equal((await get('/admin/v1/keys', op.cookie)).status, 200);
    const noCsrf = await post('/admin/v1/keys', op.cookie, { name: 'via-console' });
    assert.equal(noCsrf.status, 403);
    assert.equal(json(noCsrf).error.code, 'GW_ERR_CONSOLE_CSRF');
    const wrongCsrf = await post('/admin/v1/keys', op.cookie, { name: 'via-console' }, 'x'.repeat(43));
    assert.equal(wrongCsrf.status, 403);
    const list = json(await get('/admin/v1/keys', op.cookie)).keys as Array<{ name: string }>;
    assert.ok(!list.some((k) => k.name === 'via-console'), 'nothing was created');
    const ok = await post('/admin/v1/keys', op.cookie, { name: 'via-console' }, op.csrf);
    assert.equal(ok.status, 201, ok.body);
    assert.match(json(ok).secret, /^gatehouse_/);
  });

  it('roles: a viewer reads but changes no key; an operator changes keys but not policies; an admin both', async () => {
    const v = await signIn(keys.viewer!.key);
    const vk = await post('/admin/v1/keys', v.cookie, { name: 'by-viewer' }, v.csrf);
    assert.equal(vk.status, 403);
    assert.equal(json(vk).error.code, 'GW_ERR_SCOPE_MISSING');
    const op = await signIn(keys.operator!.key);
    const op1 = await post('/admin/v1/policies', op.cookie, { name: 'p-op', scopes: ['inference'] }, op.csrf);
    assert.equal(op1.status, 403);
    const root = await signIn(keys.root!.key);
    assert.equal((await post('/admin/v1/policies', root.cookie, { name: 'p-root', scopes: ['inference'] }, root.csrf)).status, 201);
  });

  it('a header credential always wins over the cookie (a script\'s key is never mixed with a browser\'s session)', async () => {
    const root = await signIn(keys.root!.key);
    const r = await send(s.gw.url, 'GET', '/admin/v1/keys', { headers: { cookie: root.cookie, authorization: `Bearer ${keys.user!.key}` } });
    assert.equal(r.status, 403, 'authenticated as the key in the header, which has no admin scope');
  });

  it('sign-out (with the CSRF token) ends the session everywhere at once', async () => {
    const v = await signIn(keys.viewer!.key);
    const noCsrf = await post('/console/api/sign-out', v.cookie, {});
    assert.equal(noCsrf.status, 403);
    assert.equal((await get('/console/api/session', v.cookie)).status, 200, 'still signed in');
    const out = await post('/console/api/sign-out', v.cookie, {}, v.csrf);
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']), /gatehouse_console=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    assert.equal((await get('/console/api/session', v.cookie)).status, 401);
    assert.equal((await get('/admin/v1/keys', v.cookie)).status, 401);
  });

  it('a session unused past admin.console.session_idle, or past its absolute end, is sent to sign-in', async () => {
    const idle = await signIn(keys.viewer!.key);
    const max = await signIn(keys.viewer!.key);
    const db = new Database(join(s.dataDir, 'gatehouse.db'));
    try {
      // Time moved on for these two sessions only: one unused for 31 minutes, one past its end.
      const rows = db.prepare('SELECT id_hash, last_seen_at FROM console_sessions ORDER BY created_at DESC LIMIT 2').all() as Array<{ id_hash: string; last_seen_at: number }>;
      assert.equal(rows.length, 2);
      db.prepare('UPDATE console_sessions SET last_seen_at = last_seen_at - 31 * 60000 WHERE id_hash = ?').run(rows[1]!.id_hash);
      db.prepare('UPDATE console_sessions SET expires_at = ? WHERE id_hash = ?').run(Date.now() - 1, rows[0]!.id_hash);
    } finally {
      db.close();
    }
    for (const c of [idle.cookie, max.cookie]) {
      const r = await get('/console/api/session', c);
      assert.equal(r.status, 401);
      assert.equal(json(r).error.code, 'GW_ERR_CONSOLE_SESSION');
      assert.equal((await get('/admin/v1/keys', c)).status, 401);
    }
  });

  it('revoking the key a session was opened with ends that session', async () => {
    const k = await s.createKey('temp-admin', ['--scopes', 'admin:read'], { wait: true });
    const t = await signIn(k.key);
    assert.equal((await get('/admin/v1/keys', t.cookie)).status, 200);
    assert.equal(s.cli(['keys', 'revoke', k.id]).code, 0);
    await settle(800);
    const r = await get('/console/api/session', t.cookie);
    assert.equal(r.status, 401);
    assert.match(json(r).error.message, /revoked/);
  });

  it('every console answer forbids framing and inline script; the store keeps no session secret', async () => {
    const r = await get('/console/api/sign-in');
    assert.equal(r.status, 200);
    assert.deepEqual(json(r), { oidc: [], key: true });
    for (const x of [r, await get('/console/api/session'), await get('/console/nope')]) {
      assert.match(String(x.headers['content-security-policy']), /default-src 'none'; script-src 'self'; style-src 'self';.*frame-ancestors 'none'/);
      assert.equal(x.headers['x-content-type-options'], 'nosniff');
      assert.equal(x.headers['x-frame-options'], 'DENY');
    }
    const v = await signIn(keys.viewer!.key);
    const secret = v.cookie.split('=')[1]!;
    const db = new Database(join(s.dataDir, 'gatehouse.db'), { readonly: true });
    try {
      const all = JSON.stringify(db.prepare('SELECT * FROM console_sessions').all());
      assert.ok(!all.includes(secret), 'only a hash of the cookie is stored');
    } finally {
      db.close();
    }
  });

  it('Settings: an admin session reads the running configuration (passwords hidden) and the doctor\'s findings; a viewer gets 403', async () => {
    const root = await signIn(keys.root!.key);
    const doc = new OpenApiCheck(JSON.parse((await get('/admin/v1/openapi.json', root.cookie)).body));
    const c = await get('/admin/v1/config', root.cookie);
    assert.equal(c.status, 200, c.body);
    doc.check('GET', '/admin/v1/config', c.status, c.body);
    assert.equal(json(c).config.admin.listen, 'main');
    assert.equal(json(c).config.admin.console.session_idle, 30 * 60_000);
    const d = await get('/admin/v1/doctor', root.cookie);
    assert.equal(d.status, 200, d.body);
    doc.check('GET', '/admin/v1/doctor', d.status, d.body);
    const findings = json(d).findings as Array<{ id: string; severity: string }>;
    assert.ok(findings.some((f) => f.id === 'upstream.ok' && f.severity === 'ok'), `the emulator answers as Ollama: ${JSON.stringify(findings.map((f) => f.id))}`);
    assert.ok(findings.some((f) => f.id === 'upstream.exposure' && f.severity === 'info'), 'the probe around the gateway is left to gatehouse doctor on the host');
    const v = await signIn(keys.viewer!.key);
    for (const path of ['/admin/v1/config', '/admin/v1/doctor']) assert.equal((await get(path, v.cookie)).status, 403, path);
  });

  it('the console page\'s own Origin is not cross-origin; any other Origin is still refused', async () => {
    const op = await signIn(keys.operator!.key);
    const own = new URL(s.gw.url).origin;
    const mine = await send(s.gw.url, 'POST', '/admin/v1/keys', { headers: { cookie: op.cookie, origin: own, 'content-type': 'application/json', 'x-csrf-token': op.csrf }, body: JSON.stringify({ name: 'same-origin' }) });
    assert.equal(mine.status, 201, mine.body);
    const evil = await send(s.gw.url, 'POST', '/admin/v1/keys', { headers: { cookie: op.cookie, origin: 'http://evil.example', 'content-type': 'application/json', 'x-csrf-token': op.csrf }, body: JSON.stringify({ name: 'cross-origin' }) });
    assert.equal(evil.status, 403);
    assert.equal(json(evil).error.code, 'GW_ERR_ORIGIN_REJECTED');
    const sneaky = await send(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${keys.user!.key}`, origin: own, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3', messages: [], stream: false }) });
    assert.equal(sneaky.status, 403, 'the exception is for the console and the admin API only');
  });
});
