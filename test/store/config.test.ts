import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';

describe('config: store, audit, metrics', () => {
  const load = (flags: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) => loadConfig({ env, flags: { data_dir: '/tmp/x', ...flags } }).config;
  const problems = (flags: Record<string, unknown>) => {
    try {
      load(flags);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('secure, working defaults', () => {
    const c = load();
    assert.equal(c.store, 'sqlite');
    assert.deepEqual(c.audit, { enabled: true, retention: 90 * 86_400_000, flush_interval: 250, batch_size: 500, queue_size: 20_000 });
    assert.deepEqual(c.metrics, { listen: '127.0.0.1:9464' });
  });

  it('accepts PostgreSQL URLs (with a schema), durations, and main/off for metrics', () => {
    const c = load({ store: 'postgresql://gh@db:5432/gh?schema=gh_prod', 'audit.retention': '7d', 'audit.flush_interval': '1s', 'metrics.listen': 'main' });
    assert.equal(c.store, 'postgresql://gh@db:5432/gh?schema=gh_prod');
    assert.equal(c.audit.retention, 7 * 86_400_000);
    assert.equal(c.audit.flush_interval, 1000);
    assert.equal(c.metrics.listen, 'main');
    assert.equal(load({ 'audit.retention': 0 }).audit.retention, 0);
    assert.equal(load({}, { GATEHOUSE_STORE: 'postgres://h/db', GATEHOUSE_METRICS__LISTEN: 'off' }).metrics.listen, 'off');
  });

  it('refuses what it cannot use, naming the key', () => {
    assert.match(problems({ store: 'mysql://h/db' })[0]!, /^store: must be "sqlite" or a PostgreSQL URL/);
    assert.match(problems({ store: 'postgres://h/db?schema=Bad-Name' })[0]!, /^store: /);
    assert.match(problems({ 'metrics.listen': 'everywhere' })[0]!, /^metrics\.listen: must be HOST:PORT .*"main".*"off"/);
    assert.match(problems({ 'audit.batch_size': 0 })[0]!, /^audit\.batch_size: /);
    assert.match(problems({ 'audit.flush': '1s' })[0]!, /^audit\.flush: unknown key/);
  });
});
