import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openStores } from '../../src/store/index.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { freshSchema, pgUnavailable, type TestSchema } from '../store/pg.js';
import { hit } from './http.js';

/**
 * The crash promise: `kill -9` under load, restart. The stores open (SQLite passes its
 * integrity check), every request that completed more than a second before the kill has its audit
 * record, and a key change the CLI reported as done is there.
 */

const pgSkip = (await pgUnavailable()) ?? false;

async function load(s: Stack, key: string, until: () => boolean): Promise<Array<{ id: string; doneAt: number }>> {
  const done: Array<{ id: string; doneAt: number }> = [];
  const worker = async () => {
    while (!until()) {
      try {
        const r = await hit(s.gw.url, { path: '/api/generate', key, body: { model: 'llama3', prompt: 'load', stream: false } });
        if (r.status === 200) done.push({ id: r.id, doneAt: Date.now() });
      } catch {
        return; // the gateway is gone
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return done;
}

async function crashUnderLoad(s: Stack, key: string, midLoad?: () => void) {
  let killedAt = 0;
  const running = load(s, key, () => killedAt > 0);
  await new Promise((r) => setTimeout(r, 500));
  midLoad?.(); // (a synchronous CLI run: the load pauses meanwhile, then resumes before the kill)
  await new Promise((r) => setTimeout(r, 1500));
  const exited = new Promise((r) => s.gw.proc.once('exit', r));
  killedAt = Date.now();
  s.gw.proc.kill('SIGKILL');
  await exited;
  return { killedAt, done: await running };
}

describe('kill -9 during load', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('SQLite: intact after restart, nothing older than a second lost, CLI key changes kept', async (t) => {
    const s = await startStack({ config: { metrics: { listen: 'off' } } });
    cleanup.push(() => s.close());
    const { key } = await s.createKey('load');
    let lastKey: { id: string; key: string } | null = null;
    const { killedAt, done } = await crashUnderLoad(s, key, () => {
      const r = s.cli(['keys', 'create', '--name', 'during-the-load', '--json']);
      assert.equal(r.code, 0, r.stderr);
      lastKey = JSON.parse(r.stdout);
    });
    assert.ok(done.length > 50, `load ran (${done.length} requests)`);

    const db = new Database(join(s.dataDir, 'gatehouse.db'));
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();

    const stores = await openStores({ dataDir: s.dataDir });
    const ids = new Set((await stores.audit.query({ limit: 100_000 })).map((r) => r.requestId));
    assert.ok(await stores.keys.find(lastKey!.id), 'the key the CLI created just before the kill is there');
    await stores.close();
    const old = done.filter((d) => d.doneAt <= killedAt - 1000);
    const missing = old.filter((d) => !ids.has(d.id));
    const recent = done.filter((d) => d.doneAt > killedAt - 1000);
    t.diagnostic(`${done.length} requests; ${old.length} finished > 1 s before the kill, ${missing.length} of them missing; last second: ${recent.filter((d) => ids.has(d.id)).length}/${recent.length} recorded`);
    assert.ok(old.length > 0);
    assert.deepEqual(missing, []);

    const again = await s.startReplica();
    assert.equal((await hit(again.url, { path: '/api/tags', key })).status, 200);
    assert.equal((await hit(again.url, { path: '/api/tags', key: lastKey!.key })).status, 200);
    assert.equal(await again.stop(), 0);
  });

  it('PostgreSQL: the same', { skip: pgSkip }, async (t) => {
    const schema: TestSchema = freshSchema('crash');
    const s = await startStack({ config: { store: schema.url, metrics: { listen: 'off' } } });
    cleanup.push(() => schema.drop(), () => s.close());
    // The server created its first key in PostgreSQL and left it in the data dir.
    const key = readFileSync(join(s.dataDir, 'initial-key'), 'utf8').trim();
    const { killedAt, done } = await crashUnderLoad(s, key);
    assert.ok(done.length > 50, `load ran (${done.length} requests)`);
    const stores = await openStores({ dataDir: s.dataDir, store: schema.url });
    const ids = new Set((await stores.audit.query({ limit: 100_000 })).map((r) => r.requestId));
    await stores.close();
    const old = done.filter((d) => d.doneAt <= killedAt - 1000);
    const missing = old.filter((d) => !ids.has(d.id));
    t.diagnostic(`${done.length} requests; ${old.length} finished > 1 s before the kill, ${missing.length} of them missing`);
    assert.ok(old.length > 0);
    assert.deepEqual(missing, []);
    const again = await s.startReplica();
    assert.equal((await hit(again.url, { path: '/api/tags', key })).status, 200);
    assert.equal(await again.stop(), 0);
  });
});
