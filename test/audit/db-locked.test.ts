import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openStores } from '../../src/store/index.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { hit } from './http.js';

/**
 * Another process holding the database's write lock (`gatehouse keys create`, a backup tool, an
 * operator's sqlite3 shell) must not stop the gateway: SQLite makes a writer wait for the lock for
 * up to busy_timeout (5 s), and on the event loop that wait stopped every request. The server's
 * writes run on their own thread, so requests go on, and their records land once the lock is free.
 */
describe('SQLite write lock held by another process', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { metrics: { listen: 'off' }, audit: { flush_interval: '50ms' } } });
    ({ key } = await s.createKey('locked'));
  });
  after(() => s.close());

  it('requests are answered at once while the lock is held; their audit records are written after', async () => {
    const warm = await hit(s.gw.url, { path: '/api/tags', key });
    assert.equal(warm.status, 200);
    await new Promise((r) => setTimeout(r, 200)); // the first audit batch has started the writer thread

    const other = new Database(join(s.dataDir, 'gatehouse.db'));
    other.exec('BEGIN IMMEDIATE'); // the write lock, held until COMMIT
    const ids: string[] = [];
    const slowest: number[] = [];
    try {
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const t = performance.now();
        const r = await hit(s.gw.url, { path: '/api/chat', key, body: { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false } });
        slowest.push(performance.now() - t);
        assert.equal(r.status, 200);
        ids.push(r.id);
        await new Promise((r) => setTimeout(r, 50)); // an audit flush falls between requests
      }
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    assert.ok(ids.length >= 10, `only ${ids.length} requests in 1.5 s`);
    // Before the writer thread, the first flush under the lock stopped the event loop until COMMIT (~1.5 s).
    assert.ok(Math.max(...slowest) < 400, `slowest request under the lock took ${Math.max(...slowest).toFixed(0)} ms`);

    const cli = await openStores({ dataDir: s.dataDir });
    try {
      let found: string[] = [];
      for (let i = 0; i < 50 && found.length < ids.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const rows = await cli.audit.query({ limit: 10_000 });
        found = rows.map((r) => r.requestId).filter((id) => ids.includes(id));
      }
      assert.deepEqual(found.sort(), [...ids].sort(), 'every request made under the lock is in the audit log');
    } finally {
      await cli.close();
    }
  });
});
