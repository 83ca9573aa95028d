import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, settle, startStack, type Stack } from '../helpers/stack.js';
import { hit } from '../security/support.js';

/**
 * The forward-auth endpoint through a real nginx (issue #21 item 6): the README's nginx recipe
 * (deploy/nginx/forward-auth.conf, run as it is with this test's ports) in front of the Ollama
 * emulator, asking a real Gatehouse process about every request with `auth_request`.
 */

const RECIPE = join(REPO, 'deploy/nginx/forward-auth.conf');
const nginxInstalled = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).status === 0;
if (!nginxInstalled && process.env.CI === 'true') throw new Error('nginx is not installed, and CI=true: the forward-auth test through a real nginx must run in CI (.ci/run installs it)');
const SKIP = nginxInstalled ? false : 'nginx is not installed (apt-get install nginx); skipping the forward-auth test through a real nginx';

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

/** Resolves once something accepts on the port; gives up after ~10 s. */
async function waitForPort(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}:\n${log()}`);
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
  throw new Error(`nginx did not listen on ${port} within 10 s:\n${log()}`);
}

describe('the forward-auth endpoint through a real nginx', { skip: SKIP }, () => {
  let s: Stack;
  let dir: string;
  let nginx: ChildProcess;
  let base: string;
  const keys: Record<string, string> = {};

  before(async () => {
    s = await startStack();
    keys.alice = (await s.createKey('alice', ['--scopes', 'inference,models:read'], { wait: false })).key;
    keys.reader = (await s.createKey('reader', ['--scopes', 'models:read'], { wait: false })).key;
    keys.slow = (await s.createKey('slow', ['--rpm', '1'], { wait: false })).key;
    await settle(1000);

    dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'));
    // nginx started as root runs its workers as nobody, which must reach the temp paths.
    chmodSync(dir, 0o755);
    const port = await freePort();
    const server = readFileSync(RECIPE, 'utf8')
      .replaceAll('127.0.0.1:11434', new URL(s.emu.url).host)
      .replaceAll('127.0.0.1:11435', new URL(s.gw.url).host)
      .replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${port};`);
    const conf = [
      'daemon off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      'events { worker_connections 64; }',
      'http {',
      `  access_log ${dir}/access.log;`,
      `  client_body_temp_path ${dir}/client_body;`,
      `  proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi;`,
      `  scgi_temp_path ${dir}/scgi;`,
      server,
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'nginx.conf'), conf);
    let out = '';
    nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    nginx.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const log = () => {
      let e = '';
      try {
        e = readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        /* not written yet */
      }
      return out + e;
    };
    await waitForPort(port, nginx, log);
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGQUIT');
      const t = setTimeout(() => nginx.kill('SIGKILL'), 5000);
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
    assert.equal(seen.headers['x-gatehouse-principal'], 'alice', 'auth_request_set passes the principal upstream, replacing the client\'s value');
    assert.equal(seen.headers['x-gatehouse-scopes'], 'inference,models:read');
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(JSON.parse(seen.body.toString()).model, 'llama3', 'the body went from nginx to Ollama');
  });

  it('without a key: 401, and nothing reaches Ollama', async () => {
    s.emu.reset();
    const r = await hit(base, 'POST', '/api/chat', { headers: json, body: chat });
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /Bearer/);
    assert.equal(s.emu.requests.length, 0);
  });

  it('a key without the scope: 403', async () => {
    s.emu.reset();
    const r = await hit(base, 'POST', '/api/chat', { headers: { ...json, authorization: `Bearer ${keys.reader}` }, body: chat });
    assert.equal(r.status, 403);
    assert.equal(s.emu.requests.length, 0);
  });

  it('an unknown route: 404 with Gatehouse\'s JSON error; a wrong method: 405 with Allow', async () => {
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

  it('over the key\'s rpm: 429 with Retry-After', async () => {
    s.emu.reset();
    const ok = await hit(base, 'GET', '/api/tags', { headers: { authorization: `Bearer ${keys.slow}` } });
    assert.equal(ok.status, 200, ok.body);
    const r = await hit(base, 'GET', '/api/tags', { headers: { authorization: `Bearer ${keys.slow}` } });
    assert.equal(r.status, 429, r.body);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    assert.equal(s.emu.requests.length, 1);
  });
});

describe('the README carries the tested nginx recipe', () => {
  it('deploy/nginx/forward-auth.conf appears in the README word for word', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const recipe = readFileSync(RECIPE, 'utf8').trim();
    assert.ok(readme.includes(recipe), 'README "Forward-auth" must quote deploy/nginx/forward-auth.conf as it is');
  });
});
