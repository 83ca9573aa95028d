import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { openStores } from '../../src/store/index.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PermanentStoreError } from '../../src/store/types.js';
import { keyRotationContract } from '../contract/key-rotation.contract.js';
import { auditRec, newKey, storeContract, waitFor, type ContractBackend } from '../contract/store.contract.js';
import { PG_BASE, freshSchema, pgUnavailable, type TestSchema } from './pg.js';
import { rollupContract } from '../contract/rollups.contract.js';
import { PG_ROLLUP_BACKFILL } from '../../src/store/postgres/rollups.js';
import { DIM_BACKFILL } from '../../src/store/rollups.js';

const skip = (await pgUnavailable()) ?? false;

const backend: ContractBackend = {
  name: 'postgres',
  skip,
  pushesKeyChanges: true,
  async target() {
    const s = freshSchema('contract');
    return { open: () => openStores({ dataDir: '/nonexistent', store: s.url }), cleanup: () => s.drop() };
  },
};
storeContract(backend);
keyRotationContract(backend);

rollupContract({
  name: 'postgres',
  skip,
  async target() {
    const s = freshSchema('rollups');
    return {
      open: () => openStores({ dataDir: '/nonexistent', store: s.url }),
      async backfill() {
        const c = new pg.Client({ connectionString: PG_BASE, options: `-c search_path=${s.schema}` });
        await c.connect();
        try {
          await c.query('BEGIN');
          await c.query(PG_ROLLUP_BACKFILL + DIM_BACKFILL);
          await c.query('COMMIT');
        } finally {
          await c.end();
        }
      },
      async undoDimMigration() {
        const c = new pg.Client({ connectionString: PG_BASE, options: `-c search_path=${s.schema}` });
        await c.connect();
        try {
          await c.query('DROP TABLE rollups_by; DROP AGGREGATE gh_hist_sum(integer[]); DELETE FROM schema_migrations WHERE version = 9');
        } finally {
          await c.end();
        }
      },
      cleanup: () => s.drop(),
    };
  },
});

describe('postgres specifics', { skip }, () => {
  const schemas: TestSchema[] = [];
  const schema = (): TestSchema => {
    const s = freshSchema('pg');
    schemas.push(s);
    return s;
  };
  after(async () => {
    for (const s of schemas) await s.drop();
  });

  it('replicas starting together migrate once; each schema is its own store', async () => {
    const a = schema();
    const b = schema();
    const opened = await Promise.all([openStores({ dataDir: '/x', store: a.url }), openStores({ dataDir: '/x', store: a.url }), openStores({ dataDir: '/x', store: a.url })]);
    const other = await openStores({ dataDir: '/x', store: b.url });
    try {
      await opened[0]!.keys.create(newKey({ name: 'only-in-a' }), { actor: 't' });
      assert.equal((await opened[2]!.keys.list()).length, 1);
      assert.equal((await other.keys.list()).length, 0);
      const c = new pg.Client({ connectionString: PG_BASE });
      await c.connect();
      const v = await c.query(`SELECT version FROM ${a.schema}.schema_migrations`);
      await c.end();
      // Every version once, however many replicas raced to apply it.
      assert.deepEqual(v.rows.map((r) => Number(r.version)).sort((x, y) => x - y), PG_MIGRATIONS.map((m) => m.version));
    } finally {
      for (const s of [...opened, other]) await s.close();
    }
  });

  it('an audit batch PostgreSQL can never store is rejected as permanent (not retried forever)', async () => {
    const s = await openStores({ dataDir: '/x', store: schema().url });
    try {
      await assert.rejects(s.audit.append([auditRec({ principalName: 'nul\u0000byte' })]), PermanentStoreError);
    } finally {
      await s.close();
    }
  });

  it('a bad URL or unreachable server fails to open with a message that hides the password', async () => {
    await assert.rejects(openStores({ dataDir: '/x', store: 'postgres://u:hunter2@127.0.0.1:1/db' }), (err: Error) => {
      assert.match(err.message, /cannot open the PostgreSQL store postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
      assert.ok(!err.message.includes('hunter2'));
      return true;
    });
    await assert.rejects(openStores({ dataDir: '/x', store: `${PG_BASE}?schema=Bad-Name` }), /schema "Bad-Name"/);
  });

  it('the LISTEN connection comes back after being killed, and announces that it is back', async () => {
    const sc = schema();
    const s = await openStores({ dataDir: '/x', store: sc.url });
    let woke = 0;
    const stop = s.watchKeys!(() => woke++);
    try {
      await waitFor(() => woke >= 1, 3000);
      const c = new pg.Client({ connectionString: PG_BASE });
      await c.connect();
      await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN gatehouse_keys_${sc.schema}%'`);
      await c.end();
      await waitFor(() => woke >= 2, 5000);
      const before = woke;
      const other = await openStores({ dataDir: '/x', store: sc.url });
      await other.keys.create(newKey(), { actor: 't' });
      await other.close();
      await waitFor(() => woke > before, 1000);
    } finally {
      stop();
      await s.close();
    }
  });
});
