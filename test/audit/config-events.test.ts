import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { flattenConfig, recordConfigChange } from '../../src/audit/config-events.js';
import { loadConfig } from '../../src/config/load.js';
import { openStores } from '../../src/store/index.js';

describe('configuration changes in the admin trail', () => {
  it('flattens the config to dotted settings with secrets hidden', () => {
    const flat = flattenConfig({ store: 'postgres://gh:s3cret@db:5432/gh', listen: '127.0.0.1:1', redis: { url: 'redis://:pw@r:6379', password: 'x' }, list: ['a'] });
    assert.deepEqual(flat, { store: 'postgres://gh:***@db:5432/gh', listen: '127.0.0.1:1', 'redis.url': 'redis://:***@r:6379', 'redis.password': '[redacted]', list: ['a'] });
  });

  it('records the first configuration, nothing when unchanged, and each change as from → to', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cfg-'));
    const stores = await openStores({ dataDir: dir });
    try {
      const env = {};
      const c1 = loadConfig({ env, flags: { data_dir: dir } }).config;
      const first = await recordConfigChange(stores.audit, c1, 'server:a@h', 1000);
      assert.equal(first?.action, 'config.initial');
      assert.equal(await recordConfigChange(stores.audit, c1, 'server:a@h', 2000), null);
      const c2 = loadConfig({ env, flags: { data_dir: dir, listen: '0.0.0.0:8080', store: 'postgres://u:pw@db/x' } }).config;
      const changed = await recordConfigChange(stores.audit, c2, 'server:b@h', 3000);
      assert.equal(changed?.action, 'config.change');
      assert.deepEqual(changed?.detail.changes, {
        listen: { from: '127.0.0.1:11435', to: '0.0.0.0:8080' },
        store: { from: 'sqlite', to: 'postgres://u:***@db/x' },
      });
      const trail = await stores.audit.adminEvents({ action: 'config.' });
      assert.deepEqual(trail.map((e) => [e.action, e.actor, e.at]), [['config.initial', 'server:a@h', 1000], ['config.change', 'server:b@h', 3000]]);
      assert.ok(!JSON.stringify(trail).includes(':pw@'));
    } finally {
      await stores.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
