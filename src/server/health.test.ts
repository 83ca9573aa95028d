import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KeyCache } from '../auth/key-cache.js';
import { derived } from '../config/resolved.js';
import { ConfigSchema } from '../config/schema.js';
import { createMetrics } from '../metrics/definitions.js';
import { UpstreamSet } from '../proxy/upstream-set.js';
import { RequestScope } from '../request/scope.js';
import { Health } from './health.js';

/** A ServerResponse stand-in that keeps what /readyz wrote. */
function fakeRes(): { res: ServerResponse; done: Promise<{ status: number; body: string }> } {
  let finish!: (v: { status: number; body: string }) => void;
  const done = new Promise<{ status: number; body: string }>((r) => (finish = r));
  let status = 0;
  const res = {
    destroyed: false,
    req: { method: 'GET' },
    writeHead(s: number) {
      status = s;
      return this;
    },
    end(body?: string) {
      finish({ status, body: body ?? '' });
    },
  } as unknown as ServerResponse;
  return { res, done };
}

describe('Health and the upstream metric: one probe, from the upstream set', () => {
  let server: Server;
  let heads = 0;
  let url = '';
  before(async () => {
    server = createServer((req, res) => {
      if (req.method === 'HEAD' && req.url === '/') heads++;
      res.writeHead(200).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('/readyz and a scrape of gatehouse_upstream_up share the probe of the configured upstream', async () => {
    const config = ConfigSchema.parse({ upstream: url });
    const upstreams = new UpstreamSet(derived(config).upstreams, { timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 } });
    try {
      assert.equal(upstreams.pick().url, url);
      assert.equal(upstreams.pick().name, 'default');
      const keys = { health: { lastOkAt: Date.now(), lastError: null } } as unknown as KeyCache;
      const health = new Health(keys, upstreams);
      const metrics = createMetrics({ upstreamUp: () => upstreams.ready(5000), processMetrics: false });

      const { res, done } = fakeRes();
      health.answer('readyz', res, new RequestScope('r1', 0, '127.0.0.1', 'GET', '/readyz'), null);
      const ready = await done;
      assert.equal(ready.status, 200);
      assert.deepEqual(JSON.parse(ready.body), { status: 'ready', checks: { keys: 'ok', upstream: 'ok', shutting_down: false } });
      assert.equal(heads, 1);

      assert.match(await metrics.render(), /^gatehouse_upstream_up 1$/m);
      assert.equal(heads, 1, 'the scrape used the answer /readyz just got');
      assert.equal(upstreams.targets[0]!.health.up, true);
    } finally {
      await upstreams.close();
    }
  });
});
