import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ROUTES, type RouteDef } from '../../src/routes/table.js';
import { sampleRequest, type SampleRequest } from '../helpers/route-samples.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';

/**
 * Issue #18 item 4: a model a key may not use is answered exactly as a model Ollama does not
 * have, on every route family: same status, same headers in the same order with the same values,
 * same body. The reference is the emulator's own answer (faithful to Ollama's source, see
 * test/emulator/emulator.test.ts) for a model that is really absent, proxied by the same gateway.
 *
 * The model is real: `qwen2.5:7b` is installed while the key that may not use it asks, then
 * removed from the emulator before a key that may use everything asks for it. Both keys have
 * an rpm limit, so the rate-limit headers must agree too: a refused model goes through the
 * limiter like any other request. What is normalised is what differs between any two responses:
 * Date, the request id, the gateway's overhead timing, the rate-limit values that move with time
 * (remaining and reset: buckets refill while the test runs; the names and their order still
 * count), and Anthropic's random `request_id` (shape checked: `req_` + 24 hex digits, as
 * anthropic.generateID makes it).
 *
 * Not covered: pull, push and create (Ollama's answers there carry registry replies or the
 * server's file paths), and copy's destination (Ollama never reports it missing).
 */

const MODEL = 'qwen2.5:7b';
const STREAMING = new Set(['generate', 'chat', 'openai.chat', 'openai.completions', 'openai.responses', 'anthropic.messages']);
const SKIP = new Set(['pull', 'push', 'create']);
const ROUTES_NAMING_A_MODEL = ROUTES.filter((r) => r.scope !== null && !SKIP.has(r.id) && (r.modelFields.length > 0 || r.param?.kind === 'model'));

interface Variant {
  name: string;
  req: SampleRequest;
}

function variants(route: RouteDef): Variant[] {
  if (route.id === 'openai.model') return [{ name: 'GET', req: { method: 'GET', path: `/v1/models/${MODEL}`, headers: {} } }];
  const base = sampleRequest(route, MODEL);
  const out: Variant[] = [{ name: 'as sampled', req: base }];
  if (STREAMING.has(route.id)) {
    const body = JSON.parse(base.body as string) as Record<string, unknown>;
    out.push({ name: 'streamed', req: { ...base, body: JSON.stringify({ ...body, stream: true }) } });
  }
  if (route.id === 'show') out.push({ name: 'by the deprecated "name" field, mixed case', req: { ...base, body: JSON.stringify({ name: 'Qwen2.5:7B' }) } });
  if (route.id === 'delete') out.push({ name: 'by "name"', req: { ...base, body: JSON.stringify({ name: MODEL }) } });
  return out;
}

interface Answer {
  status: number;
  /** [name, value] in the order they were sent. */
  headers: Array<[string, string]>;
  body: string;
}

function ask(base: string, key: string, r: SampleRequest): Promise<Answer> {
  const u = new URL(base);
  const body = r.body === undefined ? undefined : Buffer.from(r.body);
  const headers: Record<string, string> = { ...r.headers, authorization: `Bearer ${key}` };
  if (body) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: r.method, path: r.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: Array<[string, string]> = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Values that differ between any two answers; the rate-limit ones move with time as buckets refill. */
const VARIES = new Set(['date', 'x-request-id', 'x-gatehouse-overhead-ms', 'ratelimit-reset', 'x-ratelimit-reset-requests', 'ratelimit-remaining', 'x-ratelimit-remaining-requests', 'x-ratelimit-remaining-tokens']);
const REQUEST_ID = /"request_id":"req_[0-9a-f]{24}"/;

function normalise(a: Answer): Answer {
  return {
    status: a.status,
    headers: a.headers.map(([k, v]) => [k, VARIES.has(k) ? '…' : v]),
    body: a.body.replace(REQUEST_ID, '"request_id":"req_…"'),
  };
}

describe('issue #18 item 4: a model the key may not use looks exactly like one Ollama does not have', () => {
  let s: Stack;
  let one: { id: string; key: string };
  let all: { id: string; key: string };
  const hidden = new Map<string, Answer>();
  const missing = new Map<string, Answer>();
  const cases = ROUTES_NAMING_A_MODEL.flatMap((route) => variants(route).map((v) => ({ route, ...v, id: `${route.method} ${route.path} (${v.name})` })));

  before(async () => {
    s = await startStack({ config: { routes: { manage: true } } });
    const scopes = ['--scopes', 'inference,models:read,models:manage', '--rpm', '1000'];
    // copy's destination must be allowed, so that the source is what is refused.
    one = await s.createKey('mistral-only', [...scopes, '--models', `mistral,${MODEL}-backup`]);
    all = await s.createKey('everything', scopes);
    s.emu.reset();
    for (const c of cases) hidden.set(c.id, await ask(s.gw.url, one.key, c.req));
    assert.equal(s.emu.requests.length, 0, 'a refused model never reaches Ollama');
    // Now make it really missing, and ask with a key that may use every model.
    const del = await fetch(`${s.emu.url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: MODEL }) });
    assert.equal(del.status, 200);
    for (const c of cases) missing.set(c.id, await ask(s.gw.url, all.key, c.req));
  });
  after(() => s.close());

  it('covers every route family, streamed and not', () => {
    const families = new Set(cases.map((c) => c.route.dialect.id));
    assert.deepEqual([...families].sort(), ['anthropic', 'ollama', 'openai']);
    assert.ok(cases.length >= 20, `${cases.length} cases`);
  });

  for (const c of cases) {
    it(c.id, () => {
      const h = hidden.get(c.id)!;
      const m = missing.get(c.id)!;
      assert.equal(m.status, 404, `Ollama's own answer: ${m.body}`);
      if (c.route.dialect.id === 'anthropic') {
        assert.match(h.body, REQUEST_ID);
        assert.match(m.body, REQUEST_ID);
      }
      assert.deepEqual(normalise(h), normalise(m));
      assert.ok(!h.headers.some(([k]) => k === 'x-gatehouse-error'), 'no Gatehouse error code for the client');
    });
  }

  it('the audit still tells the operator which was which (GW_ERR_MODEL_NOT_ALLOWED vs a proxied 404)', async () => {
    await settle(400);
    const audit = (key: string) => {
      const out = s.cli(['audit', '--json', '--key', key, '--limit', '1000']);
      assert.equal(out.code, 0, out.stderr);
      return out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const refused = audit(one.id);
    assert.equal(refused.length, cases.length);
    for (const r of refused) {
      assert.equal(r.decision, 'refused');
      assert.equal(r.reason, 'GW_ERR_MODEL_NOT_ALLOWED');
      assert.equal(r.status, 404);
      assert.equal(r.upstream, null, 'never forwarded');
    }
    for (const r of audit(all.id)) {
      assert.equal(r.decision, 'allowed');
      assert.equal(r.reason, null);
      assert.equal(r.status, 404);
    }
  });
});
