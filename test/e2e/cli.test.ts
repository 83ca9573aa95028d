import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send } from '../helpers/http.js';
import { CLI, cli, settle, spawnGateway, startStack, type Stack } from '../helpers/stack.js';
import { startEmulator, type Emulator } from '../emulator/index.js';

/** The `gatehouse` command line: help, config validation, first start, and live key changes. */

describe('gatehouse --help and each subcommand\'s --help explain themselves', () => {
  for (const args of [['--help'], ['serve', '--help'], ['keys', '--help'], ['keys', 'create', '--help'], ['config', '--help'], ['config', 'check', '--help']]) {
    it(args.join(' '), () => {
      const r = cli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Usage:/);
    });
  }
  it('the built bin runs as a command of its own (executable, node shebang), as npx runs it', () => {
    // npm test builds first, so this checks what `npm run build` leaves behind.
    const r = spawnSync(CLI, ['--help'], { encoding: 'utf8' });
    assert.equal(r.error, undefined, `could not execute ${CLI}: ${r.error?.message}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Usage:/);
  });
  it('an unknown command fails with the usage', () => {
    const r = cli(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command/);
  });
});

describe('gatehouse config check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cfg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a valid file', () => {
    const f = join(dir, 'ok.yaml');
    writeFileSync(f, 'listen: 127.0.0.1:9999\nroutes:\n  manage: true\nclamps:\n  max_num_ctx: 4096\n');
    const r = cli(['config', 'check', '--config', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configuration OK/);
  });

  it('reports every problem by field name, unknown keys included', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'listen: nowhere\nupstream: ftp://x\nroutes:\n  mange: true\ntimeouts:\n  client_idle: forever\nbogus: 1\n');
    const r = cli(['config', 'check', '--config', f]);
    assert.equal(r.code, 1);
    for (const field of ['listen:', 'upstream:', 'routes.mange: unknown key', 'timeouts.client_idle:', 'bogus: unknown key']) assert.ok(r.stderr.includes(field), `${field} in:\n${r.stderr}`);
  });

  it('environment variables override the file and are validated too', () => {
    const f = join(dir, 'env.yaml');
    writeFileSync(f, 'listen: 127.0.0.1:9999\n');
    const ok = cli(['config', 'check', '--config', f, '--json'], { GATEHOUSE_LISTEN: '127.0.0.1:7777', GATEHOUSE_ROUTES__CLOUD: 'true' });
    assert.equal(ok.code, 0, ok.stderr);
    const cfg = JSON.parse(ok.stdout) as { listen: string; routes: { cloud: boolean } };
    assert.equal(cfg.listen, '127.0.0.1:7777');
    assert.equal(cfg.routes.cloud, true);
    const secret = cli(['config', 'check', '--config', f, '--json'], { GATEHOUSE_STORE: 'postgres://gh:s3cret-pass@127.0.0.1:5432/test' });
    assert.equal(secret.code, 0, secret.stderr);
    assert.ok(!secret.stdout.includes('s3cret-pass'), 'passwords are redacted');
    assert.match(secret.stdout, /postgres:\/\/gh:\*\*\*@127\.0\.0\.1:5432\/test/);
    // Other tools share the prefix (the shared bench harness sets GATEHOUSE_REPO): a variable
    // that names no section is reported and ignored, a typo inside a section is an error.
    const foreign = cli(['config', 'check', '--config', f], { GATEHOUSE_REPO: '/somewhere' });
    assert.equal(foreign.code, 0, foreign.stderr);
    assert.match(foreign.stderr, /GATEHOUSE_REPO does not name a setting; ignored/);
    const bad = cli(['config', 'check', '--config', f], { GATEHOUSE_ROUTES__CLOWD: 'true' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /routes\.clowd: unknown key \(from environment variable GATEHOUSE_ROUTES__CLOWD\)/);
  });
});

describe('first start', () => {
  let emu: Emulator;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-first-'));
  before(async () => {
    emu = await startEmulator();
  });
  after(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the data dir 0700 and one "initial" key in a 0600 file, and never prints the key', async () => {
    const data = join(dir, 'data');
    const gw = await spawnGateway(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', data], { GATEHOUSE_CONFIG: '', GATEHOUSE_LOG__FORMAT: 'json', GATEHOUSE_METRICS__LISTEN: 'off' });
    try {
      assert.equal(statSync(data).mode & 0o777, 0o700);
      const file = join(data, 'initial-key');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const key = readFileSync(file, 'utf8').trim();
      assert.match(key, /^gatehouse_[0-9A-Za-z]{49}$/);
      assert.ok(!gw.logs().includes(key), 'the key must not appear in the output');
      assert.match(gw.logs(), /initial-key/);
      const res = await send(gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200);
      const list = JSON.parse(cli(['keys', 'list', '--json', '--data-dir', data], { GATEHOUSE_CONFIG: '' }).stdout) as Array<{ name: string; scopes: string[] }>;
      assert.deepEqual(list.map((k) => [k.name, k.scopes]), [['initial', ['inference', 'models:read']]]);
    } finally {
      await gw.stop();
    }
    const used = JSON.parse(cli(['keys', 'list', '--json', '--data-dir', data], { GATEHOUSE_CONFIG: '' }).stdout) as Array<{ last_used_at: string | null }>;
    assert.notEqual(used[0]!.last_used_at, null, 'last-used time is written (at the latest on shutdown)');
    const again = await spawnGateway(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', data], { GATEHOUSE_CONFIG: '', GATEHOUSE_LOG__FORMAT: 'json', GATEHOUSE_METRICS__LISTEN: 'off' });
    await again.stop();
    assert.equal(JSON.parse(cli(['keys', 'list', '--json', '--data-dir', data], { GATEHOUSE_CONFIG: '' }).stdout).length, 1, 'only on the first start');
  });

  it('warns loudly when listening beyond loopback without TLS', async () => {
    const gw = await spawnGateway(['serve', '--listen', '0.0.0.0:0', '--upstream', emu.url, '--data-dir', join(dir, 'wide')], { GATEHOUSE_CONFIG: '', GATEHOUSE_LOG__FORMAT: 'json', GATEHOUSE_METRICS__LISTEN: 'off' });
    await gw.stop();
    assert.match(gw.logs(), /WITHOUT TLS/);
  });
});

describe('keys change on a running gateway within a second', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(() => s.close());

  it('create → use → update scopes → revoke', async () => {
    const created = s.cli(['keys', 'create', '--name', 'live', '--json']);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    await settle(1000);
    const chat = () => send(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'llama3', messages: [], stream: false }) });
    assert.equal((await chat()).status, 200);
    assert.equal(s.cli(['keys', 'update', id, '--scopes', 'models:read']).code, 0);
    await settle(1000);
    assert.equal((await chat()).status, 403);
    assert.equal(s.cli(['keys', 'revoke', 'live']).code, 0);
    await settle(1000);
    const res = await chat();
    assert.equal(res.status, 401);
    assert.match(JSON.parse(res.body).error, /revoked/);
  });

  it('keys list / show never print a key or its hash', () => {
    const { key } = JSON.parse(s.cli(['keys', 'create', '--name', 'quiet', '--json']).stdout) as { key: string };
    for (const args of [['keys', 'list'], ['keys', 'list', '--json'], ['keys', 'show', 'quiet'], ['keys', 'show', 'quiet', '--json']]) {
      const out = s.cli(args).stdout;
      assert.ok(!out.includes(key), args.join(' '));
      assert.ok(!out.includes(key.slice(15)), args.join(' '));
      assert.doesNotMatch(out, /[0-9a-f]{64}/, 'no hash');
    }
  });

  it('bad flags are refused with a clear message', () => {
    assert.match(s.cli(['keys', 'create', '--name', 'x', '--scopes', 'root']).stderr, /unknown scope "root"/);
    assert.match(s.cli(['keys', 'create', '--name', 'x', '--expires', 'soon']).stderr, /--expires/);
    assert.match(s.cli(['keys', 'create', '--name', 'x', '--models', '../x']).stderr, /invalid model pattern/);
    assert.match(s.cli(['keys', 'create']).stderr, /--name is required/);
    assert.match(s.cli(['keys', 'show', 'nope']).stderr, /no key "nope"/);
  });
});
