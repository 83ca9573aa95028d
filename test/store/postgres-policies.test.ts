import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import { openStores, type Stores } from '../../src/store/index.js';
import { startStack, type GatewayProcess, type Stack } from '../helpers/stack.js';
import { hit } from '../audit/http.js';
import { newKey, newPolicy } from '../contract/store.contract.js';
import { freshSchema, pgUnavailable, type TestSchema } from './pg.js';

/**
 * Issue #21: two gateway processes on one PostgreSQL schema see a policy change within one second
 * (NOTIFY on the keys' channel, the 250 ms poll behind it), through every key that uses it.
 * Without PostgreSQL this skips, except under CI=true, where it fails (test/store/pg.ts).
 */

const skip = (await pgUnavailable()) ?? false;
const by = { actor: 'cli:test@elsewhere' };
// The loops below send a request every ~10 ms until the change shows: a per-minute limit (the
// contract's default policy has rpm 10) would answer 429 before the change arrives.
const NO_LIMITS = { rpm: null, tpm: null, tpd: null, concurrency: null };
const generate = (model: string) => ({ path: '/api/generate', body: { model, prompt: 'hi', stream: false } });

async function until(gw: GatewayProcess, req: { path: string; body?: unknown }, key: string, ok: (status: number) => boolean, timeoutMs = 3000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const r = await hit(gw.url, { ...req, key });
    if (ok(r.status)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`still ${r.status} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

function apiKey(name: string, policyId: string) {
  const k = generateApiKey();
  return { key: k.key, rec: newKey({ name, hash: k.hash, hint: k.hint, scopes: [], models: [], policyId }) };
}

describe('two gateways on one PostgreSQL: policies', { skip }, () => {
  let schema: TestSchema;
  let s: Stack;
  let gw2: GatewayProcess;
  let admin: Stores;

  before(async () => {
    schema = freshSchema('policy');
    s = await startStack({ config: { store: schema.url, metrics: { listen: 'off' } } });
    gw2 = await s.startReplica();
    admin = await openStores({ dataDir: '/unused', store: schema.url });
  });
  after(async () => {
    await admin?.close();
    await s?.close();
    await schema?.drop();
  });

  it('a policy change reaches both gateways within a second, for every key that uses it', async (t) => {
    const p = await admin.policies.create(newPolicy({ name: 'fleet', scopes: ['inference'], models: ['llama3'], limits: NO_LIMITS }), by);
    const a = apiKey('pa', p.id);
    const b = apiKey('pb', p.id);
    await admin.keys.create(a.rec, by);
    await admin.keys.create(b.rec, by);
    const gws = [s.gw, gw2];
    await Promise.all(gws.flatMap((gw) => [a, b].map((k) => until(gw, generate('llama3'), k.key, (st) => st === 200))));
    await Promise.all(gws.flatMap((gw) => [a, b].map((k) => until(gw, generate('mistral'), k.key, (st) => st === 404))));

    await admin.policies.update(p.id, { models: ['llama3', 'mistral'] }, by);
    const widened = await Promise.all(gws.flatMap((gw) => [a, b].map((k) => until(gw, generate('mistral'), k.key, (st) => st === 200))));
    await admin.policies.update(p.id, { scopes: ['models:read'] }, by);
    const narrowed = await Promise.all(gws.flatMap((gw) => [a, b].map((k) => until(gw, generate('llama3'), k.key, (st) => st === 403))));
    t.diagnostic(`widened after ${widened.join(' / ')} ms; narrowed after ${narrowed.join(' / ')} ms`);
    for (const ms of [...widened, ...narrowed]) assert.ok(ms < 1000, `${ms} ms`);
  });

  it('gatehouse policies update (CLI) on the PostgreSQL store reaches the other gateway within a second', async () => {
    assert.equal(s.cli(['policies', 'create', 'via-cli', '--scopes', 'inference', '--models', 'llama3']).code, 0);
    const r = s.cli(['keys', 'create', '--name', 'cli-key', '--policy', 'via-cli', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { key } = JSON.parse(r.stdout) as { key: string };
    await until(gw2, generate('qwen2.5:7b'), key, (st) => st === 404);
    const u = s.cli(['policies', 'update', 'via-cli', '--models', '*']);
    assert.equal(u.code, 0, u.stderr);
    assert.ok((await until(gw2, generate('qwen2.5:7b'), key, (st) => st === 200, 1500)) < 1000);
  });
});
