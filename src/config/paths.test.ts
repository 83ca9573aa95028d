import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from './load.js';
import { expandHome, PATH_SETTINGS, resolvePath } from './paths.js';
import { derived } from './resolved.js';
import { ConfigSchema } from './schema.js';

describe('path settings: one rule, applied at load', () => {
  const root = mkdtempSync(join(tmpdir(), 'gh-paths-'));
  const cwd = join(root, 'work');
  after(() => rmSync(root, { recursive: true, force: true }));

  const fileWith = (yaml: string) => {
    const file = join(root, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    return file;
  };

  it('expandHome / resolvePath', () => {
    assert.equal(expandHome('~'), homedir());
    assert.equal(expandHome('~/x/y'), join(homedir(), 'x/y'));
    assert.equal(expandHome('rel/~/x'), 'rel/~/x');
    assert.equal(resolvePath('/abs/p', '/base'), '/abs/p');
    assert.equal(resolvePath('rel/p', '/base'), '/base/rel/p');
    assert.equal(resolvePath('~/p', '/base'), join(homedir(), 'p'));
  });

  it('lists every path setting of the schema', () => {
    assert.deepEqual([...PATH_SETTINGS].sort(), ['admin.console.oidc.client_secret_file', 'data_dir', 'ssh.authorized_keys', 'tls.cert', 'tls.client_ca', 'tls.key']);
  });

  it('a setting nested deeper (admin.console.oidc.client_secret_file) follows the same rule', () => {
    const file = fileWith([
      'auth: { oidc: [{ issuer: "http://127.0.0.1:9", audience: gatehouse, rules: [{ group: g, policy: p }] }] }',
      'admin: { listen: main, console: { oidc: { issuer: "http://127.0.0.1:9", client_id: console, client_secret_file: secrets/console } } }',
    ].join('\n'));
    const { config } = loadConfig({ configPath: file, env: {}, cwd, systemConfig: null });
    assert.equal(config.admin.console.oidc?.client_secret_file, join(root, 'secrets/console'));
  });

  it('written in the config file: relative to the file\'s directory; ~ is home; absolute kept', () => {
    const file = fileWith(['data_dir: data', 'tls: { cert: certs/c.pem, key: ~/k.pem, client_ca: ~/ca.pem, client_auth: optional }', 'ssh: { authorized_keys: keys/ak }'].join('\n'));
    const { config } = loadConfig({ configPath: file, env: {}, cwd, systemConfig: null });
    assert.equal(config.data_dir, join(root, 'data'));
    assert.equal(config.tls.cert, join(root, 'certs/c.pem'));
    assert.equal(config.tls.key, join(homedir(), 'k.pem'));
    assert.equal(config.tls.client_ca, join(homedir(), 'ca.pem'));
    assert.equal(config.ssh.authorized_keys, join(root, 'keys/ak'));
  });

  it('given by a flag or a GATEHOUSE_* variable: relative to the current directory, even with a config file', () => {
    const file = fileWith('tls: { cert: /abs/c.pem, key: /abs/k.pem }\n');
    const { config } = loadConfig({
      configPath: file, cwd, systemConfig: null,
      env: { GATEHOUSE_TLS__KEY: 'k.pem', GATEHOUSE_SSH__AUTHORIZED_KEYS: 'ak' },
      flags: { data_dir: 'd' },
    });
    assert.equal(config.tls.cert, '/abs/c.pem');
    assert.equal(config.tls.key, join(cwd, 'k.pem'));
    assert.equal(config.ssh.authorized_keys, join(cwd, 'ak'));
    assert.equal(config.data_dir, join(cwd, 'd'));
  });

  it('no config file: relative to the current directory; the default data_dir is ~/.gatehouse', () => {
    assert.equal(loadConfig({ env: {}, cwd, systemConfig: null }).config.data_dir, join(homedir(), '.gatehouse'));
    const { config } = loadConfig({ env: { GATEHOUSE_TLS__CERT: 'c.pem', GATEHOUSE_TLS__KEY: '/k.pem' }, cwd, systemConfig: null });
    assert.equal(config.tls.cert, join(cwd, 'c.pem'));
    assert.equal(config.tls.key, '/k.pem');
  });

  it('tls.client_ca must still be written absolute (or ~/…)', () => {
    assert.throws(() => loadConfig({ env: {}, cwd, systemConfig: null, flags: { 'tls.cert': '/c', 'tls.key': '/k', 'tls.client_auth': 'require', 'tls.client_ca': 'ca.pem' } }), /absolute path/);
  });
});

describe('derived config: computed once per config', () => {
  it('TLS on, listen address, the upstream target, ssh window', () => {
    const config = ConfigSchema.parse({ listen: '0.0.0.0:8443', upstream: 'https://[fd00::1]', tls: { cert: '/c', key: '/k' }, ssh: { window: '90s' } });
    const d = derived(config);
    assert.equal(derived(config), d, 'cached with the config');
    assert.equal(d.tls, true);
    assert.deepEqual(d.listen, { host: '0.0.0.0', port: 8443, loopback: false });
    assert.equal(d.sshWindowSec, 90);
    assert.deepEqual(d.upstreams, [{ name: 'default', url: 'https://[fd00::1]', origin: 'https://[fd00::1]', host: '[fd00::1]', hostname: 'fd00::1', port: 443, tls: true, parallel: 1, maxLoaded: 1 }]);
    assert.equal(d.fleet, false, 'upstream is the one-node shorthand: no fleet');
    const plain = derived(ConfigSchema.parse({}));
    assert.equal(plain.tls, false);
    assert.equal(plain.listen.loopback, true);
    assert.deepEqual(plain.upstreams.map((u) => [u.url, u.host, u.port]), [['http://127.0.0.1:11434', '127.0.0.1:11434', 11434]]);
  });

  it('upstreams: each node with its name, parallel and max_loaded (defaults 1), and the fleet on even for one', () => {
    const d = derived(ConfigSchema.parse({ upstreams: [{ name: 'gpu-a', url: 'http://10.0.0.5:11434', parallel: 4, max_loaded: 2 }, { name: 'gpu-b', url: 'http://10.0.0.6:11434' }] }));
    assert.equal(d.fleet, true);
    assert.deepEqual(d.upstreams.map((u) => [u.name, u.host, u.parallel, u.maxLoaded]), [['gpu-a', '10.0.0.5:11434', 4, 2], ['gpu-b', '10.0.0.6:11434', 1, 1]]);
    assert.equal(derived(ConfigSchema.parse({ upstreams: [{ name: 'solo', url: 'http://127.0.0.1:1' }] })).fleet, true);
  });

  it('upstreams: unique names and servers, http(s) origins; upstream and upstreams together are an error naming both', () => {
    const bad = (upstreams: unknown) => ConfigSchema.safeParse({ upstreams }).success;
    assert.equal(bad([{ name: 'a', url: 'http://h:1' }, { name: 'a', url: 'http://h:2' }]), false, 'duplicate name');
    assert.equal(bad([{ name: 'a', url: 'http://h:1' }, { name: 'b', url: 'http://h:1/' }]), false, 'same server twice');
    assert.equal(bad([{ name: 'a', url: 'http://h:1/api' }]), false, 'a path');
    assert.equal(bad([{ name: 'a', url: 'ftp://h:1' }]), false, 'not http(s)');
    assert.equal(bad([{ name: 'has space', url: 'http://h:1' }]), false, 'name');
    assert.equal(bad([]), false, 'empty list');
    assert.equal(bad([{ name: 'a', url: 'http://h:1', parallel: 0 }]), false, 'parallel 0');
    assert.equal(bad([{ name: 'a', url: 'http://h:1' }, { name: 'b', url: 'https://h:1' }]), true);
    assert.throws(() => loadConfig({ env: { GATEHOUSE_UPSTREAM: 'http://127.0.0.1:11434' }, cwd: process.cwd(), systemConfig: null, flags: { upstreams: [{ name: 'a', url: 'http://h:1' }] } }), /upstream \(from environment variable GATEHOUSE_UPSTREAM\) and upstreams are both set/);
  });
});
