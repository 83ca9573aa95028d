import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certRegistration } from '../../src/cli/commands/keys-cert.js';
import { parseSubject } from '../../src/auth/client-cert.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { openSqlite } from '../../src/store/sqlite/open.js';
import { clientCa, clientCert, haveOpenssl, serverCert, type Pair } from './certs.js';

const skip = haveOpenssl() ? false : 'openssl is not installed';

describe('client certificate subjects', () => {
  it('normalises the ways people write a DN, keeping the order', () => {
    assert.equal(parseSubject('CN=alice, O=Example'), 'CN=alice, O=Example');
    assert.equal(parseSubject('cn=alice,o=Example'), 'CN=alice, O=Example');
    assert.equal(parseSubject('/O=Example/CN=alice'), 'O=Example, CN=alice');
    assert.equal(parseSubject('  CN = alice  '), 'CN=alice');
  });
  it('refuses what is not a DN', () => {
    for (const bad of ['', 'alice', 'CN=', '=x', 'CN=a,,bad']) assert.equal(parseSubject(bad), null, bad);
  });
});

describe('keys add-cert: what is stored', { skip }, () => {
  let dir: string;
  let ca: Pair, alice: Pair, self: Pair;
  const tls = (o: Partial<Config['tls']> = {}): Config['tls'] => ({ client_auth: 'optional', ...o }) as Config['tls'];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cc-'));
    ca = clientCa(dir);
    alice = clientCert(dir, 'alice', '/O=Example/CN=alice', ca);
    self = clientCert(dir, 'self', '/CN=self', null);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('pins a certificate by its SHA-256 fingerprint', () => {
    const r = certRegistration({ certFile: alice.cert }, tls());
    assert.ok(!('error' in r));
    assert.equal(r.fingerprint, `cert:sha256:${alice.fingerprint256}`);
    assert.equal(r.match, 'fingerprint');
    assert.match(r.summary, /subject="O=Example, CN=alice"/);
    assert.deepEqual(r.notes, []);
  });

  it('maps a subject taken from a certificate, and checks it came from the configured CA', () => {
    const ok = certRegistration({ certFile: alice.cert, match: 'subject' }, tls({ client_ca: ca.cert }));
    assert.ok(!('error' in ok));
    assert.equal(ok.fingerprint, 'cert:subject:O=Example, CN=alice');
    assert.deepEqual(ok.notes, []);
    const other = certRegistration({ certFile: self.cert, match: 'subject' }, tls({ client_ca: ca.cert }));
    assert.ok(!('error' in other));
    assert.match(other.notes.join(' '), /not issued directly by a CA in tls.client_ca/);
  });

  it('says when the configuration keeps a registration from working', () => {
    const none = certRegistration({ certFile: alice.cert }, tls({ client_auth: 'none' }));
    assert.ok(!('error' in none));
    assert.match(none.notes.join(' '), /client_auth: none/);
    const noCa = certRegistration({ subject: 'CN=bob' }, tls());
    assert.ok(!('error' in noCa));
    assert.match(noCa.notes.join(' '), /needs|only used for certificates that verify against tls.client_ca/);
  });

  it('refuses a file with a private key in it, and contradictory options', () => {
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, Buffer.concat([alice.pem, alice.keyPem]));
    const withKey = certRegistration({ certFile: bundle }, tls());
    assert.ok('error' in withKey && /PRIVATE KEY/.test(withKey.error));
    assert.ok('error' in certRegistration({}, tls()));
    assert.ok('error' in certRegistration({ certFile: alice.cert, subject: 'CN=x' }, tls()));
    assert.ok('error' in certRegistration({ subject: 'CN=x', match: 'fingerprint' }, tls()));
    assert.ok('error' in certRegistration({ certFile: alice.cert, match: 'issuer' }, tls()));
    assert.ok('error' in certRegistration({ subject: 'not a dn' }, tls()));
  });

  it('a server certificate file is not mistaken for a client one only by name: any certificate can be pinned', () => {
    const srv = serverCert(dir, 'srv');
    const r = certRegistration({ certFile: srv.cert }, tls());
    assert.ok(!('error' in r));
    assert.equal(r.fingerprint, `cert:sha256:${srv.fingerprint256}`);
    assert.ok(readFileSync(srv.cert).length > 0);
  });
});

describe('tls config keys', () => {
  const load = (tls: Record<string, unknown>) => loadConfig({ env: {}, cwd: tmpdir(), flags: { tls } });
  const problems = (tls: Record<string, unknown>) => {
    try {
      load(tls);
      return [];
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
  };
  it('client_auth defaults to none', () => {
    assert.equal(load({}).config.tls.client_auth, 'none');
  });
  it('client certificates need TLS; require needs a CA; a CA needs client_auth', () => {
    assert.match(problems({ client_auth: 'optional' }).join('\n'), /needs TLS/);
    assert.match(problems({ cert: '/c.pem', key: '/k.pem', client_auth: 'require' }).join('\n'), /require needs tls.client_ca/);
    assert.match(problems({ cert: '/c.pem', key: '/k.pem', client_ca: '/ca.pem' }).join('\n'), /no effect unless/);
    assert.match(problems({ cert: '/c.pem', key: '/k.pem', client_auth: 'optional', client_ca: 'relative.pem' }).join('\n'), /absolute path/);
    assert.match(problems({ cert: '/c.pem', key: '/k.pem', client_auth: 'sometimes' }).join('\n'), /client_auth/);
    assert.deepEqual(problems({ cert: '/c.pem', key: '/k.pem', client_auth: 'require', client_ca: '/ca.pem' }), []);
  });
});

describe('key store migration for client certificates', () => {
  it('a populated version-1 store keeps its keys and index, and accepts the new kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mig-'));
    const file = join(dir, 'gatehouse.db');
    const insert = `INSERT INTO keys (id, name, kind, hash, hint, fingerprint, public_key, scopes, models, limits, clamps, created_at, updated_at, version)
      VALUES (?, ?, ?, ?, NULL, ?, NULL, '["inference"]', NULL, '{}', '{}', 1, 1, ?)`;
    try {
      const v1 = new Database(file);
      v1.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      v1.exec(MIGRATIONS.find((m) => m.version === 1)!.sql);
      v1.prepare('INSERT INTO schema_migrations VALUES (1, 1)').run();
      v1.prepare(insert).run('k1', 'api', 'api_key', 'h1', null, 1);
      v1.prepare(insert).run('k2', 'ssh', 'ssh_key', null, 'SHA256:x', 2);
      assert.throws(() => v1.prepare(insert).run('k3', 'cert', 'client_cert', null, 'cert:sha256:AA', 3), /CHECK constraint/);
      v1.close();

      const db = openSqlite(file);
      const rows = db.prepare('SELECT id, kind, hash, fingerprint, version FROM keys ORDER BY id').all();
      assert.deepEqual(rows, [
        { id: 'k1', kind: 'api_key', hash: 'h1', fingerprint: null, version: 1 },
        { id: 'k2', kind: 'ssh_key', hash: null, fingerprint: 'SHA256:x', version: 2 },
      ]);
      db.prepare(insert).run('k3', 'cert', 'client_cert', null, 'cert:sha256:AA', 3);
      assert.throws(() => db.prepare(insert).run('k4', 'x', 'something_else', null, null, 4), /CHECK constraint/);
      assert.throws(() => db.prepare(insert).run('k5', 'dup', 'client_cert', null, 'cert:sha256:AA', 5), /UNIQUE/);
      assert.ok(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'keys_version'").get());
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
