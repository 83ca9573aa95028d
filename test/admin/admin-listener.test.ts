import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { send } from '../helpers/http.js';
import { CLI, startStack, type Stack } from '../helpers/stack.js';
import { OpenApiCheck } from './openapi-check.js';

/**
 * admin.listen: HOST:PORT — the admin API on a listener of its own, and nowhere else; with
 * `upstreams`, GET /admin/v1/nodes is the process's live fleet view (what `gatehouse nodes` shows).
 */

let nodes: Emulator[];
let stack: Stack;
let adminUrl: string;
let root: { id: string; key: string };

before(async () => {
  nodes = await Promise.all([startEmulator({ models: ['llama3:latest'] }), startEmulator({ models: ['qwen2.5:7b'] })]);
  stack = await startStack({
    config: {
      upstreams: nodes.map((n, i) => ({ name: `gpu-${i}`, url: n.url, parallel: 2, max_loaded: 1 })),
      fleet: { ps_interval: '200ms', tags_interval: '1s' },
      admin: { listen: '127.0.0.1:0' },
    },
  });
  adminUrl = /"url":"(http:\/\/[^"]+)","msg":"admin API listening"/.exec(stack.gw.logs())![1]!;
  root = await stack.createKey('root', ['--scopes', 'admin']);
});
after(async () => {
  await stack?.close();
  await Promise.all((nodes ?? []).map((n) => n.close()));
});

const auth = () => ({ authorization: `Bearer ${root.key}` });

describe('admin.listen HOST:PORT', () => {
  it('serves /admin/v1 there and nothing else; the main listener does not serve it', async () => {
    const main = await send(stack.gw.url, 'GET', '/admin/v1/keys', { headers: auth() });
    assert.equal(main.status, 404);
    assert.equal(JSON.parse(main.body).error.code, 'GW_ERR_ROUTE_NOT_FOUND');
    assert.match(JSON.parse(main.body).error.message, /admin\.listen/);
    assert.equal((await send(adminUrl, 'GET', '/api/tags', { headers: auth() })).status, 404);
    assert.equal((await send(adminUrl, 'GET', '/healthz')).status, 404);
    assert.equal((await send(adminUrl, 'GET', '/admin/v1/keys', { headers: auth() })).status, 200);
    assert.equal((await send(adminUrl, 'GET', '/admin/v1/keys')).status, 401);
  });

  it('the Host allowlist applies there as on the main listener', async () => {
    const h = { ...auth(), host: 'rebound.example' };
    const a = await send(adminUrl, 'GET', '/admin/v1/keys', { headers: h });
    const m = await send(stack.gw.url, 'GET', '/api/version', { headers: h });
    assert.equal(a.status, m.status);
    assert.equal(a.status, 403);
    assert.equal(JSON.parse(a.body).error.code, 'GW_ERR_HOST_REJECTED');
  });

  it('nodes: the live fleet view, as the document says; `gatehouse nodes --url` prints it', async () => {
    const d = await send(adminUrl, 'GET', '/admin/v1/openapi.json', { headers: auth() });
    const check = new OpenApiCheck(JSON.parse(d.body));
    const r = await send(adminUrl, 'GET', '/admin/v1/nodes', { headers: auth() });
    check.check('GET', '/admin/v1/nodes', r.status, r.body);
    const view = JSON.parse(r.body);
    assert.deepEqual(view.nodes.map((n: { name: string }) => n.name), ['gpu-0', 'gpu-1']);
    // Run without blocking this process: the emulated nodes answer the gateway's polls from here.
    const out = await promisify(execFile)(process.execPath, [CLI, 'nodes', '--url', adminUrl], { env: { ...process.env, GATEHOUSE_CONFIG: stack.configFile, GATEHOUSE_TOKEN: root.key } });
    assert.match(out.stdout, /^NODE\s+HEALTH/);
    assert.match(out.stdout, /gpu-0\s+up/);
    assert.match(out.stdout, /waiting in the gateway's queue: 0/);
  });
});
