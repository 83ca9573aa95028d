import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, settle, startStack, type Stack } from '../helpers/stack.js';
import { hit } from '../security/support.js';

/**
 * The forward-auth endpoint through a real Caddy (issue #21 item 6): the README's Caddy recipe
 * (deploy/caddy/forward-auth.Caddyfile, run as it is but for the ports and a plain-http site
 * address instead of a domain with automatic HTTPS) in front of the Ollama emulator, asking a real
 * Gatehouse process about every request with `forward_auth`. Caddy returns a refusal to the client
 * as Gatehouse wrote it, so every status arrives with Gatehouse's body and headers.
 */

const RECIPE = join(REPO, 'deploy/caddy/forward-auth.Caddyfile');
const caddyInstalled = spawnSync('caddy', ['version'], { encoding: 'utf8' }).status === 0;
if (!caddyInstalled && process.env.CI === 'true') throw new Error('caddy is not installed, and CI=true: the forward-auth test through a real Caddy must run in CI (.ci/run installs it)');
const SKIP = caddyInstalled ? false : 'caddy is not installed (apt-get install caddy); skipping the forward-auth test through a real Caddy';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`caddy exited with ${proc.exitCode}:\n${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (up) return;
    await settle(100);
  }
  throw new Error(`caddy did not listen on ${port} within 10 s:\n${log()}`);
}

describe('the forward-auth endpoint through a real Caddy', { skip: SKIP }, () => {
  let s: Stack;
  let dir: string;
  let caddy: ChildProcess;
  let base: string;
  const keys: Record<string, string> = {};

  before(async () => {
    s = await startStack();
    keys.alice = (await s.createKey('alice', ['--scopes', 'inference,models:read'], { wait: false })).key;
    keys.reader = (await s.createKey('reader', ['--scopes', 'models:read'], { wait: false })).key;
    keys.slow = (await s.createKey('slow', ['--rpm', '1'], { wait: false })).key;
    await settle(1000);

    dir = mkdtempSync(join(tmpdir(), 'gatehouse-caddy-'));
    const port = await freePort();
    const site = readFileSync(RECIPE, 'utf8')
      .replaceAll('127.0.0.1:11434', new URL(s.emu.url).host)
      .replaceAll('127.0.0.1:11435', new URL(s.gw.url).host)
      .replace('ollama.example.com {', `http://127.0.0.1:${port} {`);
    // No admin endpoint (it would take port 2019), no certificates, state in the test's own dir.
    writeFileSync(join(dir, 'Caddyfile'), `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${dir}/data\n}\n\n${site}`);
    let out = '';
    caddy = spawn('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') },
    });
    caddy.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    caddy.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await waitForPort(port, caddy, () => out);
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    if (caddy && caddy.exitCode === null) {
      const exited = new Promise((r) => caddy.once('exit', r));
      caddy.kill('SIGTERM');
      const t = setTimeout(() => caddy.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const chat = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false });
  const json = { 'content-type': 'application/json' };

  it('a valid key reaches Ollama and gets its answer; Ollama sees who Gatehouse said it was, not the key', async () => {
    s.emu.reset();
    const r = await hit(base, 'POST', '/api/chat', { headers: { ...json, authorization: `Bearer ${keys.alice}`, 'x-gatehouse-principal': 'admin' }, body: chat });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).done, true);
    assert.equal(s.emu.requests.length, 1);
    const seen = s.emu.requests[0]!;
    assert.equal(seen.path, '/api/chat');
    assert.equal(seen.headers['x-gatehouse-principal'], 'alice', 'copy_headers passes the principal upstream; the client\'s own value was dropped');
    assert.equal(seen.headers['x-gatehouse-scopes'], 'inference,models:read');
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(JSON.parse(seen.body.toString()).model, 'llama3', 'the body went from Caddy to Ollama');
  });

  it('streams pass through as they come', async () => {
    const r = await hit(base, 'POST', '/api/chat', { headers: { ...json, authorization: `Bearer ${keys.alice}` }, body: JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] }) });
    assert.equal(r.status, 200);
    const lines = r.body.trim().split('\n');
    assert.ok(lines.length > 1, 'NDJSON lines');
    assert.equal(JSON.parse(lines.at(-1)!).done, true);
  });

  it('without a key: 401 with Gatehouse\'s body and WWW-Authenticate; nothing reaches Ollama', async () => {
    s.emu.reset();
    const r = await hit(base, 'POST', '/api/chat', { headers: json, body: chat });
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /Bearer/);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_AUTH_MISSING');
    assert.match(JSON.parse(r.body).error, /requires an API key/);
    assert.equal(s.emu.requests.length, 0);
  });

  it('a key without the scope: 403', async () => {
    s.emu.reset();
    const r = await hit(base, 'POST', '/api/chat', { headers: { ...json, authorization: `Bearer ${keys.reader}` }, body: chat });
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-gatehouse-error'], 'GW_ERR_SCOPE_MISSING');
    assert.equal(s.emu.requests.length, 0);
  });

  it('an unknown route: 404 with Gatehouse\'s JSON error; a wrong method: 405 with Allow; a dot segment: 400', async () => {
    s.emu.reset();
    const r = await hit(base, 'GET', '/api/nope', { headers: { authorization: `Bearer ${keys.alice}` } });
    assert.equal(r.status, 404, r.body);
    assert.match(JSON.parse(r.body).error, /not found/);
    const m = await hit(base, 'GET', '/api/chat', { headers: { authorization: `Bearer ${keys.alice}` } });
    assert.equal(m.status, 405, m.body);
    assert.equal(m.headers.allow, 'POST');
    const dots = await hit(base, 'GET', '/api/%2e%2e/api/tags', { headers: { authorization: `Bearer ${keys.alice}` } });
    assert.equal(dots.status, 400, dots.body);
    assert.equal(s.emu.requests.length, 0);
  });

  it('over the key\'s rpm: 429 with Retry-After, counted once per request', async () => {
    s.emu.reset();
    const ok = await hit(base, 'GET', '/api/tags', { headers: { authorization: `Bearer ${keys.slow}` } });
    assert.equal(ok.status, 200, ok.body);
    const r = await hit(base, 'GET', '/api/tags', { headers: { authorization: `Bearer ${keys.slow}` } });
    assert.equal(r.status, 429, r.body);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    assert.equal(s.emu.requests.length, 1);
  });
});

describe('the README carries the tested Caddy recipe', () => {
  it('deploy/caddy/forward-auth.Caddyfile appears in the README word for word', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const recipe = readFileSync(RECIPE, 'utf8').trim();
    assert.ok(readme.includes(recipe), 'README "Forward-auth" must quote deploy/caddy/forward-auth.Caddyfile as it is');
  });
});
