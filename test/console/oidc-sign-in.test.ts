import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startProvider, type TestProvider } from '../helpers/oidc.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';

/**
 * The console's sign-in through a real OpenID provider (`oidc-provider`, its own login form): the
 * authorization code flow with PKCE, the flow cookie binding the callback to the browser that
 * started it, the identity's policy giving the role. Driven over HTTP with a small cookie jar (the
 * browser test in browser.test.ts does the same through Chromium).
 */

let idp: TestProvider;
let s: Stack;

before(async () => {
  idp = await startProvider([
    { id: 'dana', groups: ['platform'], name: 'Dana' },
    { id: 'erin', groups: ['viewers'] },
    { id: 'finn', groups: ['nobody'] },
  ]);
  s = await startStack({
    config: {
      admin: { listen: 'main', console: { oidc: { issuer: idp.issuer, client_id: 'console', resource: 'urn:gatehouse', scopes: ['api'] } } },
      auth: { oidc: [{ issuer: idp.issuer, audience: 'gatehouse', rules: [{ group: 'platform', policy: 'platform' }, { group: 'viewers', policy: 'viewers' }, { group: 'nobody', policy: 'users' }] }] },
    },
  });
  for (const args of [['platform', '--scopes', 'admin'], ['viewers', '--scopes', 'admin:read'], ['users', '--scopes', 'inference']]) assert.equal(s.cli(['policies', 'create', ...args]).code, 0);
  idp.addCodeClient('console', `${s.gw.url}/console/api/callback`);
  await settle(800);
});
after(async () => {
  await s?.close();
  await idp?.close();
});

/** Cookies per origin, as a browser keeps them (name=value only: enough for these two servers). */
class Jar {
  readonly #byOrigin = new Map<string, Map<string, string>>();
  header(url: string): string {
    return [...(this.#byOrigin.get(new URL(url).origin) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  store(url: string, res: Response): void {
    const m = this.#byOrigin.get(new URL(url).origin) ?? new Map<string, string>();
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/Max-Age=0/i.test(c) || value === '') m.delete(name);
      else m.set(name, value);
    }
    this.#byOrigin.set(new URL(url).origin, m);
  }
}

async function go(jar: Jar, url: string, init: RequestInit = {}): Promise<Response> {
  const cookie = jar.header(url);
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie ? { cookie } : {}) } });
  jar.store(url, res);
  return res;
}

/** Follows redirects and the provider's login form (as `login`) until the gateway's callback answers. */
async function signInAs(login: string, jar = new Jar()): Promise<{ jar: Jar; final: Response; trail: string[] }> {
  let url = `${s.gw.url}/console/api/sign-in/oidc/0`;
  const trail: string[] = [];
  for (let i = 0; i < 15; i++) {
    trail.push(url);
    const res = await go(jar, url);
    if (url.startsWith(`${s.gw.url}/console/api/callback`)) return { jar, final: res, trail };
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url).toString();
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    assert.ok(action, `a login form at ${url} (status ${res.status}): ${html.slice(0, 300)}`);
    const form = new URLSearchParams({ prompt: 'login', login, password: 'any' });
    const post = await go(jar, new URL(action.replace(/&amp;/g, '&'), url).toString(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    assert.ok(post.status >= 300 && post.status < 400, `the login form redirects (got ${post.status})`);
    url = new URL(post.headers.get('location')!, url).toString();
  }
  assert.fail(`no callback after 15 steps: ${trail.join(' → ')}`);
}

describe('console sign-in through the OpenID provider (code + PKCE)', () => {
  it('offers the provider, not a key', async () => {
    const r = await fetch(`${s.gw.url}/console/api/sign-in`);
    assert.deepEqual(await r.json(), { oidc: [{ id: '0', issuer: idp.issuer, label: new URL(idp.issuer).host }], key: false });
    const byKey = await fetch(`${s.gw.url}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"key":"gatehouse_x"}' });
    assert.equal(byKey.status, 403);
  });

  it('the provider is asked with S256 PKCE and a state bound to this browser; the callback opens a session with the policy\'s role', async () => {
    const start = await fetch(`${s.gw.url}/console/api/sign-in/oidc/0`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const to = new URL(start.headers.get('location')!);
    assert.equal(to.origin, idp.issuer);
    assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
    assert.match(to.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(to.searchParams.get('state'), /gatehouse_console_flow=([^;]+)/.exec(start.headers.getSetCookie().join('\n'))![1]);
    assert.match(start.headers.getSetCookie().join('\n'), /gatehouse_console_flow=[^;]+; Path=\/console\/api\/callback; HttpOnly; SameSite=Lax; Max-Age=600/);

    const { jar, final } = await signInAs('dana');
    assert.equal(final.status, 303);
    assert.equal(final.headers.get('location'), '/console/#/overview');
    const me = await go(jar, `${s.gw.url}/console/api/session`);
    assert.equal(me.status, 200);
    const body = (await me.json()) as { role: string; principal: { kind: string; name: string } };
    assert.equal(body.role, 'admin');
    assert.equal(body.principal.kind, 'oidc');
    assert.match(body.principal.name, /^Dana \(dana @ http:\/\/127\.0\.0\.1:\d+\)$/);
    assert.equal((await go(jar, `${s.gw.url}/admin/v1/keys`)).status, 200, 'the session authenticates the admin API');
  });

  it('a viewer\'s group gives the viewer role; a group whose policy has no admin scope is sent back to sign-in with the reason', async () => {
    const erin = await signInAs('erin');
    assert.equal(((await (await go(erin.jar, `${s.gw.url}/console/api/session`)).json()) as { role: string }).role, 'viewer');
    const finn = await signInAs('finn');
    assert.equal(finn.final.status, 303);
    assert.match(decodeURIComponent(finn.final.headers.get('location')!), /^\/console\/#\/sign-in\?error=your identity .* has no admin scope/);
    assert.equal((await go(finn.jar, `${s.gw.url}/console/api/session`)).status, 401);
  });

  it('a callback not started by this browser (no flow cookie, or another state) signs nobody in', async () => {
    const { trail } = await signInAs('dana');
    const callback = trail.at(-1)!;
    // The same callback URL (code and state) replayed from another browser: no flow cookie.
    const other = new Jar();
    const r = await go(other, callback);
    assert.equal(r.status, 303);
    assert.match(decodeURIComponent(r.headers.get('location')!), /not started from this browser/);
    assert.equal((await go(other, `${s.gw.url}/console/api/session`)).status, 401);
    // And replayed in the same browser: the pending sign-in was taken once.
    const start = await fetch(`${s.gw.url}/console/api/sign-in/oidc/0`, { redirect: 'manual' });
    const flow = /gatehouse_console_flow=([^;]+)/.exec(start.headers.getSetCookie().join('\n'))![1]!;
    const wrong = await fetch(`${s.gw.url}/console/api/callback?code=x&state=${'A'.repeat(43)}`, { redirect: 'manual', headers: { cookie: `gatehouse_console_flow=${flow}` } });
    assert.match(decodeURIComponent(wrong.headers.get('location')!), /not started from this browser/);
  });
});
