import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Ollama } from 'ollama';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { CLI, startStack, type Stack } from '../helpers/stack.js';

/**
 * Several Ollama nodes behind one gateway (`upstreams`, docs/fleet.md), end to end: a real gateway
 * process in front of three emulated nodes on loopback. Routing by residency, merged lists filtered
 * by the allowlist, a model no node has, management fan-out and X-Gatehouse-Node, `gatehouse nodes`,
 * the node in the audit log; then failures: a node going down mid-run and a node that answers
 * every request with an instant 503.
 */

const chats = (e: Emulator, model?: string) => e.requests.filter((r) => r.path === '/api/chat' && (model === undefined || (r.json as { model?: string } | undefined)?.model === model)).length;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * The CLI run without blocking this process: the emulated nodes live here, and a synchronous spawn
 * would stop them answering the gateway's polls for as long as the command runs.
 */
async function cliAsync(s: Stack, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, GATEHOUSE_CONFIG: s.configFile } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface Fleet {
  nodes: Emulator[];
  s: Stack;
  key: string;
  chat(model: string, extra?: Record<string, unknown>, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

async function startFleet(models: string[][], config: Record<string, unknown> = {}, chunkDelayMs = 0): Promise<Fleet> {
  const nodes = await Promise.all(models.map((m) => startEmulator({ models: m, chunkDelayMs })));
  const names = ['gpu-a', 'gpu-b', 'gpu-c'];
  const s = await startStack({
    config: {
      upstreams: nodes.map((n, i) => ({ name: names[i], url: n.url, parallel: 2, max_loaded: 1 })),
      fleet: { ps_interval: '200ms', tags_interval: '1s' },
      ...config,
    },
  });
  const key = (await s.createKey('fleet', ['--scopes', 'inference,models:read,models:manage'])).key;
  const h = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  return {
    nodes, s, key,
    chat: (model, extra = {}, headers = {}) => fetch(`${s.gw.url}/api/chat`, { method: 'POST', headers: { ...h, ...headers }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: false, ...extra }) }),
    async close() {
      await s.close();
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}

describe('several Ollama nodes behind one gateway', () => {
  let f: Fleet;
  let get: (path: string, key?: string) => Promise<Response>;
  before(async () => {
    f = await startFleet(
      [['llama3:latest', 'qwen2.5:7b', 'mistral:latest'], ['llama3:latest', 'qwen2.5:7b', 'phi3:latest'], ['llama3:latest', 'mistral:latest', 'gemma2:latest']],
      { routes: { manage: true } },
    );
    get = (path, key = f.key) => fetch(`${f.s.gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  });
  after(() => f?.close());

  it('routing prefers the node where the model is loaded: every request goes to it, none makes another node load', async () => {
    const [a, b, c] = f.nodes as [Emulator, Emulator, Emulator];
    // Load llama3 on gpu-c behind the gateway's back; its next /api/ps poll (200 ms) sees it.
    const direct = await fetch(`${c.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3', messages: [], stream: false }) });
    assert.equal(direct.status, 200);
    await pause(700);
    const before = [chats(a), chats(b), chats(c)];
    for (let i = 0; i < 6; i++) {
      const r = await f.chat('llama3');
      assert.equal(r.status, 200, await r.text());
    }
    assert.deepEqual([chats(a) - before[0]!, chats(b) - before[1]!, chats(c) - before[2]!], [0, 0, 6]);
  });

  it('a model on no node is answered with the route\'s own not-found, and no node is asked', async () => {
    const before = f.nodes.map((n) => n.requests.length);
    const r = await f.chat('nothere');
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: "model 'nothere' not found" });
    const o = await fetch(`${f.s.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${f.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nothere', messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(o.status, 404);
    const body = (await o.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.message, "model 'nothere' not found");
    // Only the pollers' GETs reached the nodes meanwhile.
    const asked = f.nodes.flatMap((n, i) => n.requests.slice(before[i]).filter((q) => q.method !== 'GET'));
    assert.deepEqual(asked, []);
  });

  it('a model installed on one node only goes to that node', async () => {
    const r = await f.chat('gemma2');
    assert.equal(r.status, 200);
    assert.equal(chats(f.nodes[2]!, 'gemma2'), 1);
    assert.equal(chats(f.nodes[0]!, 'gemma2') + chats(f.nodes[1]!, 'gemma2'), 0);
  });

  it('/api/tags and /v1/models merge the nodes (one entry per model), filtered by the key\'s allowlist; /api/ps from live state', async () => {
    const all = (await (await get('/api/tags')).json()) as { models: { name: string }[] };
    assert.deepEqual(all.models.map((m) => m.name).sort(), ['gemma2:latest', 'llama3:latest', 'mistral:latest', 'phi3:latest', 'qwen2.5:7b']);
    const { key: some } = await f.s.createKey('some-models', ['--scopes', 'inference,models:read', '--models', 'llama3,phi3']);
    const tags = (await (await get('/api/tags', some)).json()) as { models: { name: string }[] };
    assert.deepEqual(tags.models.map((m) => m.name).sort(), ['llama3:latest', 'phi3:latest']);
    const models = (await (await get('/v1/models', some)).json()) as { object: string; data: { id: string }[] };
    assert.equal(models.object, 'list');
    assert.deepEqual(models.data.map((m) => m.id).sort(), ['llama3:latest', 'phi3:latest']);
    const ps = (await (await get('/api/ps', some)).json()) as { models: { name: string }[] };
    assert.deepEqual(ps.models.map((m) => m.name), ['llama3:latest'], 'llama3 is loaded (on gpu-c), gemma2 is loaded but not this key\'s');
    const psAll = (await (await get('/api/ps')).json()) as { models: { name: string }[] };
    assert.deepEqual(psAll.models.map((m) => m.name).sort(), ['gemma2:latest', 'llama3:latest']);
    const v = await get('/api/version');
    assert.equal(v.status, 200);
    assert.match(((await v.json()) as { version: string }).version, /^\d/);
  });

  it('node names are not revealed to clients', async () => {
    const r = await f.chat('llama3');
    const headers = [...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
    assert.doesNotMatch(headers, /gpu-|x-gatehouse-node/i);
    assert.doesNotMatch(await r.text(), /gpu-/);
  });

  it('management goes to every node, or to the nodes X-Gatehouse-Node names; progress stays in Ollama\'s shape (ollama-js renders it)', async () => {
    const ollama = new Ollama({ host: f.s.gw.url, headers: { Authorization: `Bearer ${f.key}` } });
    const seen: { status: string; total?: number; completed?: number }[] = [];
    for await (const p of await ollama.pull({ model: 'tinyllama', stream: true })) seen.push(p);
    assert.equal(seen.at(-1)!.status, 'success');
    assert.ok(seen.some((p) => p.total !== undefined && p.total > 0), 'layer progress with totals');
    assert.equal(seen.filter((p) => p.status === 'pulling manifest').length, 1, 'a phase line once, not once per node');
    assert.deepEqual(f.nodes.map((n) => n.requests.filter((r) => r.path === '/api/pull').length), [1, 1, 1]);
    // Installed lists are read again after a management call: every node now routes tinyllama.
    const tags = (await (await get('/api/tags')).json()) as { models: { name: string }[] };
    assert.ok(tags.models.some((m) => m.name === 'tinyllama:latest'));

    const del = await fetch(`${f.s.gw.url}/api/delete`, { method: 'DELETE', headers: { authorization: `Bearer ${f.key}`, 'content-type': 'application/json', 'x-gatehouse-node': 'gpu-a,gpu-c' }, body: JSON.stringify({ model: 'tinyllama' }) });
    assert.equal(del.status, 200, await del.text());
    assert.deepEqual(f.nodes.map((n) => n.requests.filter((r) => r.path === '/api/delete').length), [1, 0, 1]);
    await pause(300);
    // Now only gpu-b has it: a chat for it goes there.
    const before = chats(f.nodes[1]!, 'tinyllama');
    assert.equal((await f.chat('tinyllama')).status, 200);
    assert.equal(chats(f.nodes[1]!, 'tinyllama'), before + 1);

    const unknown = await fetch(`${f.s.gw.url}/api/delete`, { method: 'DELETE', headers: { authorization: `Bearer ${f.key}`, 'x-gatehouse-node': 'gpu-z', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tinyllama' }) });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { error: string }).error, /"gpu-z", which is not one of this gateway's nodes/);
    assert.equal(f.nodes.reduce((s, n) => s + n.requests.filter((r) => r.path === '/api/delete').length, 0), 2, 'nothing sent for an unknown node');
  });

  it('a blob upload goes to the same nodes as the create that follows (X-Gatehouse-Node on both); HEAD answers 200 only where every node has it', async () => {
    const bytes = randomBytes(64 * 1024);
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    const h = { authorization: `Bearer ${f.key}`, 'x-gatehouse-node': 'gpu-a,gpu-b' };
    const up = await fetch(`${f.s.gw.url}/api/blobs/${digest}`, { method: 'POST', headers: h, body: bytes });
    assert.equal(up.status, 201, await up.text());
    const uploads = f.nodes.map((n) => n.requests.filter((r) => r.method === 'POST' && r.path === `/api/blobs/${digest}`));
    assert.deepEqual(uploads.map((u) => u.length), [1, 1, 0]);
    assert.deepEqual(uploads.slice(0, 2).map((u) => u[0]!.bodyLength), [bytes.length, bytes.length], 'each node got every byte');
    assert.equal((await fetch(`${f.s.gw.url}/api/blobs/${digest}`, { method: 'HEAD', headers: h })).status, 200);
    assert.equal((await fetch(`${f.s.gw.url}/api/blobs/${digest}`, { method: 'HEAD', headers: { authorization: `Bearer ${f.key}` } })).status, 404, 'gpu-c lacks it: the CLI would upload it again');
    const create = await fetch(`${f.s.gw.url}/api/create`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mine', files: { 'm.gguf': digest }, stream: false }) });
    assert.equal(create.status, 200, await create.text());
    assert.deepEqual(f.nodes.map((n) => n.requests.filter((r) => r.path === '/api/create').length), [1, 1, 0]);
  });

  it('a pull that fails on one node ends with an error line naming it; the others keep the model', async () => {
    f.nodes[2]!.fault({ match: (r) => r.path === '/api/pull', status: 500, body: '{"error":"disk full"}', contentType: 'application/json' });
    const r = await fetch(`${f.s.gw.url}/api/pull`, { method: 'POST', headers: { authorization: `Bearer ${f.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'smollm' }) });
    assert.equal(r.status, 200);
    const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l) as { status?: string; error?: string });
    const last = lines.at(-1)!;
    assert.match(last.error ?? '', /pull failed on 1 of 3 nodes: gpu-c \(disk full\); done on gpu-a, gpu-b/);
  });

  it('gatehouse nodes shows each node: health, in-flight/parallel, loaded models with expiry, installed count', async () => {
    await pause(1200); // the snapshot is written every second
    const r = await cliAsync(f.s, ['nodes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { source: string; nodes: { name: string; health: string; parallel: number; inFlight: number; installed: number; resident: { model: string; expiresAt: string | null }[] }[] };
    assert.equal(j.source, 'gateway');
    assert.deepEqual(j.nodes.map((n) => [n.name, n.health, n.parallel, n.inFlight]), [['gpu-a', 'up', 2, 0], ['gpu-b', 'up', 2, 0], ['gpu-c', 'up', 2, 0]]);
    const c = j.nodes[2]!;
    assert.ok(c.resident.some((m) => m.model === 'registry.ollama.ai/library/llama3:latest' || m.model === 'registry.ollama.ai/library/gemma2:latest'));
    assert.ok(c.resident.every((m) => m.expiresAt === null || Date.parse(m.expiresAt) > Date.now()));
    assert.equal(j.nodes[1]!.installed, 6, 'gpu-b: llama3, qwen2.5, phi3, the created mine, and the pulled tinyllama and smollm');
    const table = await cliAsync(f.s, ['nodes']);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^NODE\s+HEALTH\s+BREAKER\s+IN-FLIGHT/m);
    assert.match(table.stdout, /^gpu-c\s+up\s+closed\s+0\/2\s+\S/m);
  });

  it('the audit record names the node that served each request', async () => {
    await pause(1200);
    const r = await cliAsync(f.s, ['audit', '--json', '--since', '1h']);
    assert.equal(r.code, 0, r.stderr);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { route: string; models: string[]; node: string | null; status: number });
    const gemma = recs.find((x) => x.route === 'chat' && x.models[0]?.includes('gemma2'));
    assert.equal(gemma?.node, 'gpu-c');
    const del = recs.find((x) => x.route === 'delete' && x.status === 200);
    assert.equal(del?.node, 'gpu-a,gpu-c');
  });
});

describe('a fleet of one (upstreams with one entry)', () => {
  it('routes, refuses a model it lacks without asking, and passes its own lists through the allowlist filter', async () => {
    const f = await startFleet([['llama3:latest', 'qwen2.5:7b']]);
    try {
      assert.equal((await f.chat('llama3')).status, 200);
      const before = f.nodes[0]!.requests.filter((r) => r.method !== 'GET').length;
      assert.equal((await f.chat('mistral')).status, 404);
      assert.equal(f.nodes[0]!.requests.filter((r) => r.method !== 'GET').length, before, 'not asked');
      const { key } = await f.s.createKey('one-model', ['--scopes', 'inference,models:read', '--models', 'qwen2.5:7b']);
      const tags = (await (await fetch(`${f.s.gw.url}/api/tags`, { headers: { authorization: `Bearer ${key}` } })).json()) as { models: { name: string }[] };
      assert.deepEqual(tags.models.map((m) => m.name), ['qwen2.5:7b']);
    } finally {
      await f.close();
    }
  });
});

describe('several Ollama nodes: failures', () => {
  it('a node going down mid-run costs only its own streams: every request started after it went down succeeds', async () => {
    const f = await startFleet([['llama3:latest'], ['llama3:latest'], ['llama3:latest']], {}, 10);
    try {
      const results: { started: number; status: number }[] = [];
      let downAt = Infinity;
      const worker = async () => {
        for (let i = 0; i < 15; i++) {
          const started = performance.now();
          const r = await f.chat('llama3').catch(() => null);
          results.push({ started, status: r ? r.status : 0 });
          await r?.text();
        }
      };
      const run = Promise.all([worker(), worker(), worker(), worker()]);
      await pause(200);
      assert.ok(chats(f.nodes[0]!) > 0, 'gpu-a was serving when it went down');
      downAt = performance.now();
      await f.nodes[0]!.close();
      await run;
      const after = results.filter((r) => r.started > downAt + 5);
      assert.ok(after.length >= 20, `requests after the node went down: ${after.length}`);
      assert.deepEqual(after.filter((r) => r.status !== 200), [], 'every request after the node went down succeeded');
    } finally {
      await f.close();
    }
  });

  it('the streams a node was serving when it went down end in their dialect\'s error form', async () => {
    const f = await startFleet([['llama3:latest'], ['llama3:latest']]);
    try {
      const a = f.nodes[0]!;
      a.fault({ match: (r) => r.path === '/api/chat' || r.path === '/v1/chat/completions', chunks: 200, chunkDelayMs: 20, times: 2 });
      const h = { authorization: `Bearer ${f.key}`, 'content-type': 'application/json' };
      const open = (path: string, body: unknown) => fetch(`${f.s.gw.url}${path}`, { method: 'POST', headers: h, body: JSON.stringify(body) });
      const native = await open('/api/chat', { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: true });
      const openai = await open('/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: true });
      assert.equal(native.status, 200);
      assert.equal(openai.status, 200);
      const readers = [native, openai].map((r) => r.body!.getReader());
      for (const rd of readers) await rd.read(); // both are under way, on gpu-a
      assert.equal(chats(a) + a.requests.filter((r) => r.path === '/v1/chat/completions').length, 2);
      await a.close();
      const rest = async (rd: ReadableStreamDefaultReader<Uint8Array>) => {
        let text = '';
        for (;;) {
          const { done, value } = await rd.read().catch(() => ({ done: true, value: undefined }));
          if (done) return text;
          text += Buffer.from(value!).toString('utf8');
        }
      };
      const [n = "", o = ""] = await Promise.all(readers.map(rest));
      const last = JSON.parse(n.trim().split('\n').at(-1)!) as { error?: string };
      assert.match(last.error ?? '', /connection to Ollama broke/);
      assert.match(o, /"error"/);
      assert.doesNotMatch(o, /\[DONE\]/);
      // And the next request goes to the node that is still up.
      assert.equal((await f.chat('llama3')).status, 200);
    } finally {
      await f.close();
    }
  });

  it('a node answering instant 503s gets at most 5% of the traffic it would otherwise get, and no client sees a 503', async () => {
    const f = await startFleet([['llama3:latest'], ['llama3:latest'], ['llama3:latest']], { fleet: { ps_interval: '200ms', reveal_nodes: true } });
    try {
      const busy = f.nodes[0]!;
      busy.fault({ match: (r) => r.path === '/api/chat', status: 503, times: 100_000, body: '{"error":"server busy, please try again.  maximum pending requests exceeded"}', contentType: 'application/json' });
      const N = 150;
      const statuses: number[] = [];
      const servedBy = new Map<string, number>();
      let next = 0;
      const worker = async () => {
        while (next < N) {
          next++;
          const r = await f.chat('llama3');
          statuses.push(r.status);
          const node = r.headers.get('x-gatehouse-node') ?? '?';
          servedBy.set(node, (servedBy.get(node) ?? 0) + 1);
          await r.text();
        }
      };
      await Promise.all([worker(), worker(), worker()]);
      assert.deepEqual(statuses.filter((s) => s !== 200), []);
      const hits = chats(busy);
      assert.ok(hits <= 0.05 * (N / 3), `the busy node got ${hits} of ${N} requests (an even share is ${N / 3}); at most 5% of that share is allowed`);
      assert.equal(servedBy.get('gpu-a') ?? 0, 0, 'no answer came from the busy node');
      assert.equal((servedBy.get('gpu-b') ?? 0) + (servedBy.get('gpu-c') ?? 0), N, 'reveal_nodes: every answer names its node');
    } finally {
      await f.close();
    }
  });
});
