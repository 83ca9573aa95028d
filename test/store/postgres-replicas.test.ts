import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import { openStores, type Stores } from '../../src/store/index.js';
import { startStack, type GatewayProcess, type Stack } from '../helpers/stack.js';
import { hit } from '../audit/http.js';
import { newKey } from '../contract/store.contract.js';
import { PG_BASE, freshSchema, pgUnavailable, type TestSchema } from './pg.js';

/**
 * Two gateway processes on one PostgreSQL schema: each sees keys created and revoked anywhere
 * within a second (LISTEN/NOTIFY, with the 250 ms poll behind it), both write to the one audit
 * log. And docs/threat-model.md G7: with the database gone, valid keys keep working from the cache and no
 * audit record is lost over a short outage.
 */

const skip = (await pgUnavailable()) ?? false;
const by = { actor: 'cli:test@elsewhere' };

/** Polls until `ok(status)` holds for a request with `key`; returns the ms it took. */
async function until(gw: GatewayProcess, key: string, ok: (status: number) => boolean, timeoutMs = 3000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const r = await hit(gw.url, { path: '/api/tags', key });
    if (ok(r.status)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`still ${r.status} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

function apiKey(name: string) {
  const k = generateApiKey();
  return { key: k.key, rec: newKey({ name, hash: k.hash, hint: k.hint }) };
}

describe('two gateways on one PostgreSQL', { skip }, () => {
  let schema: TestSchema;
  let s: Stack;
  let gw2: GatewayProcess;
  let admin: Stores;

  before(async () => {
    schema = freshSchema('replica');
    s = await startStack({ config: { store: schema.url, metrics: { listen: 'off' }, audit: { flush_interval: '100ms' } } });
    gw2 = await s.startReplica();
    admin = await openStores({ dataDir: '/unused', store: schema.url });
  });
  after(async () => {
    await admin?.close();
    await s?.close();
    await schema?.drop();
  });

  it('a key created elsewhere works on both within a second; a revocation stops it on both within a second', async (t) => {
    const { key, rec } = apiKey('shared');
    await admin.keys.create(rec, by);
    const seen = await Promise.all([until(s.gw, key, (st) => st === 200), until(gw2, key, (st) => st === 200)]);
    await admin.keys.revoke(rec.id, by);
    const gone = await Promise.all([until(s.gw, key, (st) => st === 401), until(gw2, key, (st) => st === 401)]);
    t.diagnostic(`new key usable after ${seen.join(' / ')} ms; revoked key refused after ${gone.join(' / ')} ms`);
    for (const ms of [...seen, ...gone]) assert.ok(ms < 1000, `${ms} ms`);
  });

  it('a change through one replica\'s store reaches the other (updates, not just creates)', async () => {
    const { key, rec } = apiKey('scoped');
    await admin.keys.create({ ...rec, scopes: ['inference'] }, by);
    await until(gw2, key, (st) => st === 403); // tags needs models:read
    await admin.keys.update(rec.id, { scopes: ['inference', 'models:read'] }, by);
    assert.ok((await until(gw2, key, (st) => st === 200)) < 1000);
  });

  it('both replicas write to the one audit log, and gatehouse usage sees them all', async () => {
    const { key, rec } = apiKey('both');
    await admin.keys.create(rec, by);
    await Promise.all([until(s.gw, key, (st) => st === 200), until(gw2, key, (st) => st === 200)]);
    const a = await hit(s.gw.url, { path: '/api/generate', key, body: { model: 'llama3', prompt: 'one', stream: false } });
    const b = await hit(gw2.url, { path: '/api/generate', key, body: { model: 'llama3', prompt: 'two', stream: false } });
    let ids = new Set<string>();
    const t0 = Date.now();
    while (!(ids.has(a.id) && ids.has(b.id)) && Date.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 100));
      ids = new Set((await admin.audit.query({ principalId: rec.id })).map((r) => r.requestId));
    }
    assert.ok(ids.has(a.id) && ids.has(b.id), 'records from both processes');
    const usage = JSON.parse(s.cli(['usage', '--json', '--key', rec.id]).stdout);
    assert.equal(usage.rows[0].name, 'both');
    assert.ok(usage.rows[0].requests >= 4 && usage.rows[0].completion_tokens > 0);
  });

  it('gatehouse keys (CLI) writes to the configured PostgreSQL store', async () => {
    const r = s.cli(['keys', 'create', '--name', 'via-cli', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { key } = JSON.parse(r.stdout) as { key: string };
    assert.ok((await until(gw2, key, (st) => st === 200, 1500)) < 1000);
  });
});

/** A TCP forwarder to PostgreSQL that the test can cut and restore, i.e. a database that goes away. */
class Cable {
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  port = 0;
  constructor(readonly target: { host: string; port: number }) {}
  async plug(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  }
}

describe('G7: the database goes away', { skip }, () => {
  let schema: TestSchema;
  let cable: Cable;
  let s: Stack;
  let admin: Stores;

  before(async () => {
    schema = freshSchema('g7');
    const base = new URL(PG_BASE);
    cable = new Cable({ host: base.hostname, port: Number(base.port || 5432) });
    await cable.plug();
    const viaCable = new URL(schema.url);
    viaCable.port = String(cable.port);
    s = await startStack({ config: { store: viaCable.toString(), metrics: { listen: 'off' }, audit: { flush_interval: '100ms' } } });
    admin = await openStores({ dataDir: '/unused', store: schema.url });
  });
  after(async () => {
    await admin?.close();
    await s?.close();
    await cable?.cut();
    await schema?.drop();
  });

  it('valid keys keep working (never a 500), refusals stay refusals, and the audit catches up afterwards', async (t) => {
    const key = readFileSync(join(s.dataDir, 'initial-key'), 'utf8').trim();
    assert.equal((await hit(s.gw.url, { path: '/api/tags', key })).status, 200);

    await cable.cut();
    const during: string[] = [];
    const statuses: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 2000) {
      const r = await hit(s.gw.url, { path: '/api/generate', key, body: { model: 'llama3', prompt: 'db down', stream: false } });
      statuses.push(r.status);
      during.push(r.id);
      if (during.length < 10) {
        // A few unknown keys (more would trip the failed-authentication throttle, a 429).
        const bad = await hit(s.gw.url, { path: '/api/tags', key: 'gatehouse_' + '1'.repeat(49) });
        statuses.push(bad.status === 401 ? -401 : bad.status);
        during.push(bad.id);
      }
      await new Promise((r2) => setTimeout(r2, 50));
    }
    t.diagnostic(`${during.length} requests while the database was unreachable`);
    assert.ok(statuses.every((st) => st === 200 || st === -401), `statuses: ${[...new Set(statuses)].join(',')}`);
    assert.ok(statuses.includes(-401), 'unknown keys are still refused');

    await cable.plug(); // same port: the gateway reconnects on its own
    const t1 = Date.now();
    let stored = new Set<string>();
    while (during.some((id) => !stored.has(id)) && Date.now() - t1 < 10_000) {
      await new Promise((r) => setTimeout(r, 200));
      stored = new Set((await admin.audit.query({ limit: 10_000 })).map((r) => r.requestId));
    }
    t.diagnostic(`audit caught up ${Date.now() - t1} ms after the database came back`);
    assert.deepEqual(during.filter((id) => !stored.has(id)), [], 'no audit record lost');

    // And revocations flow again.
    const { key: k2, rec } = apiKey('after-outage');
    await admin.keys.create(rec, by);
    await until(s.gw, k2, (st) => st === 200, 5000);
    await admin.keys.revoke(rec.id, by);
    assert.ok((await until(s.gw, k2, (st) => st === 401)) < 1000);
  });
});
