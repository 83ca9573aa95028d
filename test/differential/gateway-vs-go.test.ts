import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, pool } from '../security/support.js';
import { ALLOW, gatehouse, routeOf } from './check.js';
import { generateCases } from './generate.js';
import { GoReader, goReaderUnavailable } from './go-reader.js';

/**
 * The differential property again, end to end: generated bodies sent to a real `gatehouse serve`
 * process, what it forwards captured at the upstream. The gateway must refuse exactly what the
 * body stage refuses in-process (gatehouse-vs-go.test.ts judges those decisions against Go), and
 * forward exactly the bytes it computes — so the 10,000-case run speaks for the running gateway.
 */

const SEED = Number(process.env.GATEHOUSE_DIFF_SEED ?? 2323);
const COUNT = Number(process.env.GATEHOUSE_DIFF_E2E_CASES ?? 600);

interface Captured {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function capture(): Promise<{ url: string; server: Server; byId: Map<string, Captured> }> {
  const byId = new Map<string, Captured>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      byId.set(String(req.headers['x-request-id']), { headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': 2 });
      res.end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, byId })));
}

describe('issue #23 end to end: the running gateway forwards what its body stage decided', async () => {
  const unavailable = await goReaderUnavailable();
  let s: Stack;
  let up: Awaited<ReturnType<typeof capture>>;
  let go: GoReader;
  const keys: Record<string, string> = {};

  before(async () => {
    if (unavailable) return;
    up = await capture();
    s = await startStack({ config: { ...BASE_CONFIG, upstream: up.url, routes: { manage: true, cloud: true } } });
    keys.user = (await s.createKey('diff-user', ['--models', ALLOW, '--scopes', 'inference,models:read,cloud'], { wait: false })).key;
    keys.admin = (await s.createKey('diff-admin', ['--models', ALLOW, '--scopes', 'models:manage,models:read'])).key;
    go = await GoReader.start();
  });
  after(async () => {
    await go?.close();
    await s?.close();
    up?.server.close();
  });

  it(`${COUNT} generated cases (seed ${SEED}): refused by the gateway exactly when refused in-process, and forwarded byte for byte`, { skip: unavailable ?? false, timeout: 300_000 }, async (t) => {
    const cases = generateCases(SEED, COUNT);
    const problems: string[] = [];
    let forwarded = 0;
    await pool(8, cases.map((c) => async () => {
      const route = routeOf(c.routeId);
      const expected = gatehouse(c);
      const key = route.scope === 'models:manage' ? keys.admin : keys.user;
      const r = await hit(s.gw.url, route.method, route.path, { headers: { authorization: `Bearer ${key}`, 'content-type': c.contentType }, body: c.body });
      const got = up.byId.get(r.id);
      if (expected.refused) {
        if (got) problems.push(`${c.label}: refused in-process (${expected.refused.code}) but forwarded by the gateway`);
        else if (r.status !== expected.refused.status) problems.push(`${c.label}: gateway answered ${r.status}, the body stage ${expected.refused.status} (${expected.refused.code})`);
        return;
      }
      if (!got) return void problems.push(`${c.label}: accepted in-process but the gateway answered ${r.status} ${r.body.slice(0, 120)}`);
      forwarded++;
      if (route.body === 'json') {
        if (!got.body.equals(expected.forward)) problems.push(`${c.label}: forwarded bytes differ from the body stage's`);
        if (got.headers['content-type'] !== 'application/json') problems.push(`${c.label}: forwarded content-type ${got.headers['content-type']}`);
      } else {
        // A rebuilt form has a fresh boundary each time: compare what Go reads from each.
        const [a, b] = await Promise.all([go.read(c.routeId, String(got.headers['content-type']), got.body), go.read(c.routeId, expected.contentType, expected.forward)]);
        if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(`${c.label}: Go reads the forwarded form as ${JSON.stringify(a)}, the body stage's as ${JSON.stringify(b)}`);
      }
      if (got.headers['content-encoding'] !== undefined) problems.push(`${c.label}: a Content-Encoding reached Ollama`);
    }));
    t.diagnostic(`${cases.length} cases, ${forwarded} forwarded`);
    assert.deepEqual(problems.slice(0, 20), []);
    assert.ok(forwarded >= cases.length / 4, `only ${forwarded} forwarded`);
  });
});
