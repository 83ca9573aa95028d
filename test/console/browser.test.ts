import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';
import { CHROMIUM, offlineContext, seriousViolations, shot, SKIP, type Offline } from './browser-kit.js';
import { startLoginProvider, type LoginProvider } from './login-provider.js';

/**
 * The web console (issue #22) in a real browser: Debian's Chromium driven by playwright-core,
 * against a real gateway process (admin.listen: main) in front of three emulated Ollama nodes,
 * signing in through a real OpenID provider (authorization code + PKCE). Data is seeded by real
 * requests through the gateway. Every page's screenshot goes to docs/screenshots (the README
 * shows them). Skipped with a message where Chromium is missing, except in CI (CI=true), where
 * the suite fails instead.
 */

const XSS_KEY = '<img src=x onerror=window.__xss=1>';
/** Refused by the gateway wherever it could enter (requests, allowlists, nodes' answers): it never reaches a page. */
const XSS_MODEL = '<script>window.__xss=2</script>';
const PAGES = ['overview', 'keys', 'usage', 'audit', 'fleet', 'settings'] as const;

async function launch(): Promise<Browser> {
  if (!CHROMIUM) throw new Error('CI=true and no Chromium found: install Debian\'s chromium (apt-get install chromium) or set CHROMIUM');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** What a page must never do: throw, or break its own CSP. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

async function chat(s: Stack, key: string, model: string): Promise<number> {
  const r = await fetch(`${s.gw.url}/api/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }], stream: false }),
  });
  await r.arrayBuffer();
  return r.status;
}

async function heading(page: Page, name: string | RegExp): Promise<void> {
  await page.getByRole('heading', { level: 1, name }).waitFor({ timeout: 15_000 });
}

describe('the web console in a real browser: OpenID sign-in, pages, keys, fleet, CSRF, XSS, accessibility', { skip: SKIP }, () => {
  let provider: LoginProvider;
  let nodes: Emulator[];
  let s: Stack;
  let browser: Browser;
  let off: Offline;
  let ctx: BrowserContext;
  let page: Page;
  let problems: string[];
  let home: string;

  before(async () => {
    provider = await startLoginProvider({ ops: ['console-admins'] });
    nodes = await Promise.all([['llama3:latest', 'qwen2.5:7b'], ['llama3:latest', 'phi3:latest'], ['mistral:latest', 'phi3:latest']].map((models) => startEmulator({ models })));
    s = await startStack({
      config: {
        upstreams: nodes.map((n, i) => ({ name: `gpu-${'abc'[i]}`, url: n.url, parallel: 2, max_loaded: 2 })),
        fleet: { ps_interval: '200ms', tags_interval: '1s' },
        auth: { oidc: [{ issuer: provider.issuer, audience: 'gatehouse', rules: [{ group: 'console-admins', policy: 'console-admin' }] }] },
        admin: { listen: 'main', console: { oidc: { issuer: provider.issuer, client_id: provider.clientId, resource: 'urn:gatehouse', scopes: ['profile'] } } },
      },
    });
    const p = s.cli(['policies', 'create', 'console-admin', '--scopes', 'admin']);
    assert.equal(p.code, 0, p.stderr);
    home = `${s.gw.url}/console/`;
    // Seed: requests by two keys on three models, refusals, and names carrying markup.
    const alpha = (await s.createKey('alpha', [], { wait: false })).key;
    const beta = (await s.createKey('beta', [], { wait: false })).key;
    const narrow = (await s.createKey('narrow', ['--models', 'phi3'], { wait: false })).key;
    const xss = (await s.createKey(XSS_KEY)).key;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await chat(s, alpha, 'llama3'));
    for (let i = 0; i < 3; i++) statuses.push(await chat(s, beta, 'qwen2.5:7b'));
    for (let i = 0; i < 2; i++) statuses.push(await chat(s, narrow, 'phi3'));
    statuses.push(await chat(s, xss, 'mistral'));
    assert.deepEqual(statuses, Array(10).fill(200));
    assert.equal(await chat(s, narrow, 'llama3'), 404, 'outside the allowlist: refused');
    assert.equal(await chat(s, xss, XSS_MODEL), 400, 'not a model name: refused before any node');
    await settle(1500); // audit batches written
    browser = await launch();
    off = await offlineContext(browser);
    ctx = off.context;
    page = await ctx.newPage();
    problems = watch(page);
  });

  after(async () => {
    await browser?.close();
    await s?.close();
    await Promise.all((nodes ?? []).map((n) => n.close()));
    await provider?.close();
  });

  it('serves the console with a strict CSP, then signs in through the OpenID provider (code + PKCE)', async () => {
    const r = await page.goto(home);
    assert.equal(r?.status(), 200);
    const h = r!.headers();
    assert.match(h['content-security-policy'] ?? '', /script-src 'self'/);
    assert.match(h['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.doesNotMatch(h['content-security-policy'] ?? '', /unsafe-inline|unsafe-eval/);
    assert.equal(h['x-content-type-options'], 'nosniff');
    await heading(page, 'Gatehouse console');
    const button = page.getByRole('link', { name: /Sign in with 127\.0\.0\.1/ });
    await button.waitFor();
    assert.equal(await page.locator('#admin-key').count(), 0, 'no admin-key sign-in where a provider is configured');
    await shot(page, 'sign-in');
    await button.click();
    await page.locator('input[name=login]').fill('ops');
    await page.locator('input[name=password]').fill('anything');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    // The provider asks for consent the first time.
    const consent = page.getByRole('button', { name: 'Continue' });
    await Promise.race([consent.waitFor({ timeout: 15_000 }).then(() => consent.click()), page.waitForURL(`${home}**`, { timeout: 15_000 })]);
    await page.waitForURL(`${home}#/overview`, { timeout: 15_000 });
    await heading(page, 'Overview');
    assert.equal(await page.locator('.role').textContent(), 'admin');
    assert.match(await page.locator('.principal').textContent() ?? '', /^ops\b/);
  });

  it('the overview charts the seeded requests (uPlot draws the series on its canvases)', async () => {
    await page.goto(`${home}#/overview`);
    await heading(page, 'Overview');
    await page.locator('.chart canvas, .notice, .empty').first().waitFor({ timeout: 15_000 });
    assert.equal(await page.getByText('does not offer usage over time').count(), 0, 'GET /admin/v1/usage/series answers');
    assert.equal(await page.locator('.chart').count(), 5, 'requests, tokens, refusals, TTFT p50, p95');
    await page.getByLabel('Split by').selectOption('model');
    await page.locator('.u-legend').first().getByText('llama3', { exact: false }).first().waitFor();
    // Pixels of the first series' colour (#1f6feb) on the requests chart: a line was drawn.
    const drawn = await page.evaluate<number>(`(() => {
      const c = document.querySelector('.chart canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 31) < 40 && Math.abs(d[i + 1] - 111) < 40 && Math.abs(d[i + 2] - 235) < 40 && d[i + 3] > 100) n++;
      return n;
    })()`);
    assert.ok(drawn > 20, `series pixels drawn: ${drawn}`);
    // The totals count every request the audit holds in the period: the 12 seeded chats (10 answered,
    // 2 refused) and the console's own sign-in and admin API calls.
    const totals = /Requests\s*(\d+)\s*Tokens\s*(\d+)\s*Refusals\s*(\d+)/.exec(await page.locator('.totals').textContent() ?? '');
    assert.ok(totals, 'requests, tokens and refusals totals are shown');
    assert.ok(Number(totals[1]) >= 12 && Number(totals[2]) > 0 && Number(totals[3]) >= 2, `totals ${totals[0]}`);
    await shot(page, 'overview');
    await page.getByLabel('Split by').selectOption('none');
    await page.locator('.chart canvas').first().waitFor();
  });

  it('creates a key and shows its secret once; the secret works; revoking it refuses it', async () => {
    await page.goto(`${home}#/keys`);
    await heading(page, 'Keys & policies');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#key-name').fill('made-in-console');
    await page.locator('#key-models').fill('llama3*');
    await page.locator('#key-rpm').fill('120');
    await page.getByRole('button', { name: 'Create key' }).last().click();
    const secretBox = page.locator('#secret-value');
    await secretBox.waitFor();
    const secret = await secretBox.inputValue();
    assert.match(secret, /^gatehouse_/);
    await page.getByRole('row', { name: /made-in-console/ }).waitFor();
    await shot(page, 'keys');
    await settle();
    assert.equal(await chat(s, secret, 'llama3'), 200, 'the new key works');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await secretBox.waitFor({ state: 'detached', timeout: 5000 }); // gone from the page, not hidden
    await page.reload();
    await heading(page, 'Keys & policies');
    await page.getByRole('row', { name: /made-in-console/ }).waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is never shown again');
    const keys = (await page.evaluate<{ keys: { name: string }[] }>(`fetch('/admin/v1/keys').then((r) => r.json())`)).keys;
    assert.ok(!JSON.stringify(keys).includes(secret.slice(10)), 'nor listed');

    await page.getByRole('button', { name: 'Revoke made-in-console' }).click();
    await page.getByRole('button', { name: 'Yes, revoke' }).click();
    await page.getByText('Key made-in-console is revoked.').waitFor();
    // Revoked keys are hidden by default (the list reloads after the revocation).
    await page.getByRole('row', { name: /made-in-console/ }).waitFor({ state: 'detached', timeout: 5000 });
    await page.getByLabel('Show revoked keys').check();
    assert.equal(await page.getByRole('row', { name: /made-in-console/ }).locator('.status').textContent(), 'revoked');
    await settle();
    assert.equal(await chat(s, secret, 'llama3'), 401, 'the revoked key is refused');
  });

  it('a key name carrying <img onerror> renders as text on every page that shows it, never as markup (model names with markup are refused by the gateway before any page could show them)', async () => {
    const checkInert = async () => {
      assert.equal(await page.evaluate<unknown>('window.__xss'), undefined);
      assert.equal(await page.locator('#app img, #app script, #app [onerror]').count(), 0);
    };
    await page.goto(`${home}#/keys`);
    await heading(page, 'Keys & policies');
    await page.getByRole('rowheader', { name: XSS_KEY }).waitFor();
    await checkInert();

    await page.goto(`${home}#/audit`);
    await heading(page, 'Audit');
    await page.getByRole('cell', { name: XSS_KEY, exact: true }).first().waitFor();
    await checkInert();
    await shot(page, 'audit');

    await page.goto(`${home}#/usage?by=model`);
    await heading(page, 'Usage');
    await page.getByRole('rowheader', { name: 'llama3', exact: false }).first().waitFor();
    await checkInert();
    await shot(page, 'usage');
    await page.getByLabel('Group by').selectOption('key');
    await page.getByRole('rowheader', { name: XSS_KEY }).waitFor();
    await checkInert();

  });

  it('usage exports CSV built from the report, with names that could be spreadsheet formulas neutralised', async () => {
    await page.goto(`${home}#/usage?by=key`);
    await page.getByRole('rowheader', { name: 'alpha' }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const path = await download.path();
    const { readFileSync } = await import('node:fs');
    const csv = readFileSync(path, 'utf8');
    assert.match(csv, /^key,id,requests,refused,prompt_tokens,completion_tokens,p50_ms,p95_ms\r\n/);
    assert.match(csv, /\r\nalpha,[^,]+,4,0,/);
    assert.match(csv, /\r\ntotal,total,/);
    assert.match(download.suggestedFilename(), /^gatehouse-usage-by-key-.*\.csv$/);
  });

  it('the fleet page shows every node with its resident models, and a node going down', async () => {
    await page.goto(`${home}#/fleet`);
    await heading(page, 'Fleet');
    for (const n of ['gpu-a', 'gpu-b', 'gpu-c']) await page.locator(`[data-node="${n}"] .health`, { hasText: 'up' }).waitFor({ timeout: 15_000 });
    await page.locator('[data-node="gpu-a"] table.resident').getByText('llama3', { exact: false }).waitFor({ timeout: 15_000 });
    await nodes[2]!.close();
    await page.locator('[data-node="gpu-c"] .health', { hasText: 'down' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('[data-node="gpu-a"] .health').textContent(), 'up');
    await shot(page, 'fleet');
  });

  it('settings show the effective configuration and the doctor\'s findings (admin role)', async () => {
    await page.goto(`${home}#/settings`);
    await heading(page, 'Settings');
    await page.getByRole('heading', { name: 'Effective configuration' }).waitFor();
    await page.locator('pre.config, .empty').first().waitFor();
    await shot(page, 'settings');
  });

  it('a POST without the session\'s CSRF token is refused, and changes nothing', async () => {
    const post = (headers: Record<string, string>) => page.evaluate<{ status: number; body: { error?: { code: string } } }>(`(async () => {
      const r = await fetch('/admin/v1/keys', { method: 'POST', credentials: 'same-origin', headers: ${JSON.stringify({ 'content-type': 'application/json', ...headers })}, body: JSON.stringify({ name: 'no-csrf' }) });
      return { status: r.status, body: await r.json() };
    })()`);
    const none = await post({});
    assert.equal(none.status, 403);
    assert.equal(none.body.error?.code, 'GW_ERR_CONSOLE_CSRF');
    const wrong = await post({ 'x-csrf-token': 'not-the-token' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error?.code, 'GW_ERR_CONSOLE_CSRF');
    const keys = (await page.evaluate<{ keys: { name: string }[] }>(`fetch('/admin/v1/keys').then((r) => r.json())`)).keys;
    assert.ok(!keys.some((k) => k.name === 'no-csrf'));
  });

  it('every page: no serious or critical axe-core violations (axe injected in a context that bypasses the CSP)', async () => {
    const a = await offlineContext(browser, { bypassCSP: true, storageState: await ctx.storageState() });
    try {
      const p = await a.context.newPage();
      const found: string[] = [];
      for (const name of PAGES) {
        await p.goto(`${home}#/${name}`);
        await heading(p, name === 'keys' ? 'Keys & policies' : name[0]!.toUpperCase() + name.slice(1));
        await p.waitForLoadState('networkidle');
        for (const v of await seriousViolations(p)) found.push(`${name}: ${v.id} (${v.impact}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
      }
      assert.deepEqual(found, []);
    } finally {
      await a.context.close();
    }
  });

  it('a session the server no longer knows (expired) sends the app to sign-in', async () => {
    await page.goto(`${home}#/keys`);
    await heading(page, 'Keys & policies');
    const cookies = await ctx.cookies(s.gw.url);
    const session = cookies.find((c) => /gatehouse_console$/.test(c.name));
    assert.ok(session, `a session cookie: ${cookies.map((c) => c.name).join(', ')}`);
    assert.ok(session.httpOnly, 'HttpOnly');
    await ctx.addCookies([{ ...session, value: 'A'.repeat(43) }]);
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.waitForURL(/#\/sign-in/, { timeout: 15_000 });
    await heading(page, 'Gatehouse console');
    await page.getByRole('alert').waitFor();
    await page.getByRole('link', { name: /Sign in with/ }).waitFor();
  });

  it('nothing was fetched from outside this machine, and no page threw or broke its CSP', () => {
    assert.deepEqual(off.foreign.filter((f) => !f.from.startsWith(provider.issuer)), [], 'the provider\'s own login page asks for web fonts; the console asks for nothing');
    assert.deepEqual(problems, []);
  });
});

describe('the web console in a real browser: admin-key sign-in and roles', { skip: SKIP }, () => {
  let s: Stack;
  let browser: Browser;
  let keys: Record<'viewer' | 'operator' | 'admin', string>;

  before(async () => {
    s = await startStack({ config: { admin: { listen: 'main' } } });
    keys = {
      viewer: (await s.createKey('console-viewer', ['--scopes', 'admin:read'], { wait: false })).key,
      operator: (await s.createKey('console-operator', ['--scopes', 'admin:keys'], { wait: false })).key,
      admin: (await s.createKey('console-admin', ['--scopes', 'admin'])).key,
    };
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  async function signIn(role: keyof typeof keys): Promise<{ page: Page; close: () => Promise<void> }> {
    const { context } = await offlineContext(browser);
    const page = await context.newPage();
    await page.goto(`${s.gw.url}/console/`);
    await page.getByLabel('Admin key').fill(keys[role]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading(page, 'Overview');
    return { page, close: () => context.close() };
  }

  it('a wrong key is refused with the server\'s message; the key field is offered only without a provider', async () => {
    const { context } = await offlineContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${s.gw.url}/console/`);
      await page.getByLabel('Admin key').fill('gatehouse_not-a-real-key');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
      assert.equal(await page.getByRole('heading', { name: 'Overview' }).count(), 0);
    } finally {
      await context.close();
    }
  });

  it('a viewer reads every page but sees no action it lacks (no create, rotate, revoke, policies or settings)', async () => {
    const { page, close } = await signIn('viewer');
    try {
      assert.equal(await page.locator('.role').textContent(), 'viewer');
      assert.equal(await page.getByRole('link', { name: 'Settings' }).count(), 0);
      await page.goto(`${s.gw.url}/console/#/keys`);
      await page.getByRole('rowheader', { name: 'console-admin' }).waitFor();
      assert.equal(await page.getByRole('button', { name: /Create key|Create policy|Revoke|Rotate|Edit/ }).count(), 0);
      await page.goto(`${s.gw.url}/console/#/fleet`);
      await page.getByText('single upstream').waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Admin key').waitFor();
      const after = await page.evaluate<number>(`fetch('/console/api/session').then((r) => r.status)`);
      assert.equal(after, 401, 'signed out: the session is gone');
    } finally {
      await close();
    }
  });

  it('an operator manages keys but not policies', async () => {
    const { page, close } = await signIn('operator');
    try {
      await page.goto(`${s.gw.url}/console/#/keys`);
      await page.getByRole('rowheader', { name: 'console-viewer' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Create key' }).count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Revoke console-viewer' }).count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Create policy' }).count(), 0);
      assert.equal(await page.getByRole('link', { name: 'Settings' }).count(), 0);
    } finally {
      await close();
    }
  });

  it('an admin creates a policy', async () => {
    const { page, close } = await signIn('admin');
    try {
      await page.goto(`${s.gw.url}/console/#/keys`);
      await page.getByRole('button', { name: 'Create policy' }).click();
      await page.locator('#policy-name').fill('team-ui');
      await page.getByRole('button', { name: 'Create policy' }).last().click();
      await page.getByRole('rowheader', { name: 'team-ui' }).waitFor();
    } finally {
      await close();
    }
  });
});

describe('the web console in a real browser under base_path', { skip: SKIP }, () => {
  let s: Stack;
  let browser: Browser;
  let admin: string;

  before(async () => {
    s = await startStack({ config: { admin: { listen: 'main' }, base_path: '/gh' } });
    admin = (await s.createKey('console-admin', ['--scopes', 'admin'])).key;
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  it('is served under the prefix: its files, sign-in, pages and sign-out all carry it; nothing answers outside it', async () => {
    const { context } = await offlineContext(browser);
    const page = await context.newPage();
    const problems = watch(page);
    const failed: string[] = [];
    page.on('response', (r) => void (r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`)));
    try {
      await page.goto(`${s.gw.url}/gh/console`);
      assert.equal(new URL(page.url()).pathname, '/gh/console/', 'redirected to the page with its trailing slash, under the prefix');
      await page.getByLabel('Admin key').fill(admin);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await heading(page, 'Overview');
      await page.goto(`${s.gw.url}/gh/console/#/keys`);
      await page.getByRole('rowheader', { name: 'console-admin' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Admin key').waitFor();
      assert.equal(await page.evaluate<number>(`fetch('/gh/console/api/session').then((r) => r.status)`), 401, 'signed out');
      assert.deepEqual(failed.filter((f) => !f.endsWith('/gh/console/api/session')), [], 'every file and call answered (401s only from the session probe)');
      assert.deepEqual(problems, []);
      assert.equal((await fetch(`${s.gw.url}/console/`)).status, 404, 'nothing outside base_path');
    } finally {
      await context.close();
    }
  });
});
