import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStores } from '../../src/store/index.js';
import { keyRotationContract } from '../contract/key-rotation.contract.js';
import { storeContract, type ContractBackend } from '../contract/store.contract.js';
import { rollupContract } from '../contract/rollups.contract.js';
import { openSqlite } from '../../src/store/sqlite/open.js';
import { ROLLUP_BACKFILL } from '../../src/store/sqlite/rollups.js';
import { DIM_BACKFILL } from '../../src/store/rollups.js';

/** The contract on a fresh data dir, opened as the CLI opens it or as the server does. */
function sqliteContract(name: string, role: 'cli' | 'server'): void {
  const backend: ContractBackend = {
    name,
    skip: false,
    pushesKeyChanges: false,
    async target() {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
      return {
        open: () => openStores({ dataDir: dir, role }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
  storeContract(backend);
  keyRotationContract(backend);
}

sqliteContract('sqlite', 'cli');

rollupContract({
  name: 'sqlite',
  skip: false,
  async target() {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rollups-'));
    return {
      open: () => openStores({ dataDir: dir, role: 'server' }),
      async backfill() {
        const db = openSqlite(join(dir, 'gatehouse.db'), { migrate: false });
        try {
          db.transaction(() => db.exec(ROLLUP_BACKFILL + DIM_BACKFILL)).immediate();
        } finally {
          db.close();
        }
      },
      async undoDimMigration() {
        const db = openSqlite(join(dir, 'gatehouse.db'), { migrate: false });
        try {
          db.exec('DROP TABLE rollups_by; DELETE FROM schema_migrations WHERE version = 11');
        } finally {
          db.close();
        }
      },
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});
// The server's role makes its background writes on a thread with its own connection: the same contract.
sqliteContract('sqlite, server role (writer thread)', 'server');

const WRITES = 400;

describe('sqlite key changes across processes', () => {
  // A CLI process commits keys while the server polls. Each poll must hand back a version no
  // later than the last row it returned: a version read separately could cover a key committed
  // between the two reads, and that key would never reach the server's cache.
  it('a poller misses no key committed by another process while it polls', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-race-'));
    const s = await openStores({ dataDir: dir, role: 'cli' });
    try {
      const storeModule = new URL('../../src/store/index.js', import.meta.url).href;
      const writer = spawn(process.execPath, ['--input-type=module', '-e', `
        const { openStores } = await import(${JSON.stringify(storeModule)});
        const { randomBytes } = await import('node:crypto');
        const s = await openStores({ dataDir: ${JSON.stringify(dir)}, role: 'cli' });
        for (let i = 0; i < ${WRITES}; i++) {
          const id = 'key_' + randomBytes(6).toString('hex');
          await s.keys.create({ id, name: 'k' + i, kind: 'api_key', hash: randomBytes(32).toString('hex'), hint: 'gatehouse_ab12', fingerprint: null, publicKey: null,
            scopes: ['inference'], models: null, limits: { rpm: null, tpm: null, tpd: null, concurrency: null }, clamps: {}, expiresAt: null }, { actor: 'cli:test' });
        }
        await s.close();
      `], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      writer.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => writer.on('exit', r));
      let running = true;
      void exited.then(() => (running = false));
      const seen = new Set<string>();
      let v = 0;
      const poll = async () => {
        const r = await s.keys.changesSince(v);
        for (const rec of r.records) seen.add(rec.id);
        v = r.version;
      };
      while (running) {
        await poll();
        await new Promise<void>((r) => setImmediate(r));
      }
      assert.equal(await exited, 0, stderr);
      await poll();
      const all = await s.keys.list();
      assert.equal(all.length, WRITES);
      const missed = all.filter((k) => !seen.has(k.id)).map((k) => k.name);
      assert.deepEqual(missed, [], `the poller never saw ${missed.length} of ${WRITES} keys`);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
