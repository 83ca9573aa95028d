import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigSchema } from '../../src/config/schema.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { generateKeyPair, loadOllamaSigner, type OllamaSigner } from '../helpers/ollama-signer.js';
import { cli, CLI, REPO, settle, spawnGateway, startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, median, percentile, pool, sleep, upstreamOf } from './support.js';

/**
 * Authentication attacks (docs/threat-model.md A1, A3, A4, A5, B5, B8) and the failed-auth limiter: every
 * way of presenting something that is not a valid key is a 401/403 answered by Gatehouse, nothing
 * reaches Ollama, and a flood of failures from one address neither gets through nor slows anyone
 * else down.
 */

const chat = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false });

describe('threats A1: no configuration means loopback and authentication, never a dev mode', () => {
  it('A1: the defaults listen on loopback only, with management and cloud routes off', () => {
    const c = ConfigSchema.parse({});
    assert.equal(c.listen, '127.0.0.1:11435');
    assert.equal(c.routes.manage, false);
    assert.equal(c.routes.cloud, false);
    assert.deepEqual(c.cors.origins, []);
    assert.deepEqual(c.trusted_proxies, []);
    assert.equal(c.ssh.replay === 'allow' || c.ssh.replay === 'once', true);
  });

  it('A1: no configuration key or environment variable switches authentication off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-a1-'));
    try {
      for (const extra of ['auth: { enabled: false }', 'auth_disabled: true', 'dev: true', 'insecure: true', 'public_routes: ["/api/chat"]', 'routes: { public: ["/api/chat"] }', 'master_key: changeme', 'allow_anonymous: true']) {
        const file = join(dir, 'g.yaml');
        writeFileSync(file, `${extra}\n`);
        const r = cli(['config', 'check', '--config', file]);
        assert.notEqual(r.code, 0, `${extra} was accepted`);
      }
      const env = cli(['config', 'check'], { GATEHOUSE_AUTH__ENABLED: 'false' });
      assert.notEqual(env.code, 0, 'GATEHOUSE_AUTH__ENABLED was accepted');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('A1: started with nothing but an upstream and a data dir, every protected request is refused', async () => {
    const emu = await startEmulator();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-a1-'));
    try {
      const gw = await spawnGateway(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', dir], { GATEHOUSE_CONFIG: '', GATEHOUSE_LOG__FORMAT: 'json', GATEHOUSE_METRICS__LISTEN: 'off' });
      try {
        for (const [m, p] of [['GET', '/api/tags'], ['POST', '/api/chat'], ['POST', '/v1/chat/completions'], ['POST', '/api/pull'], ['GET', '/api/ps']]) {
          const r = await hit(gw.url, m!, p!, { body: m === 'POST' ? chat : undefined });
          assert.equal(r.status, 401, `${m} ${p}: ${r.status}`);
        }
        assert.equal(emu.requests.length, 0);
      } finally {
        await gw.stop();
      }
    } finally {
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('threats A3/A4/A5/B5/B8: nothing but a valid key authenticates', () => {
  let s: Stack;
  let good: { id: string; key: string };
  let signer: OllamaSigner;
  let stored: { hash: string; hint: string; id: string; fingerprint: string | null; public_key: string | null }[];
  const keyDir = mkdtempSync(join(tmpdir(), 'gatehouse-a3-'));

  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true, cloud: true } } });
    good = await s.createKey('good', ['--scopes', 'inference,models:read,models:manage,cloud']);
    const kp = generateKeyPair(keyDir, 'ed25519', 'id_laptop');
    signer = loadOllamaSigner(readFileSync(kp.privateKeyPath));
    assert.equal(s.cli(['keys', 'add-ssh', '--name', 'laptop', '--pubkey-file', kp.publicKeyPath]).code, 0);
    await settle();
    const db = new Database(join(s.dataDir, 'gatehouse.db'), { readonly: true, fileMustExist: true });
    stored = db.prepare('SELECT id, hash, hint, fingerprint, public_key FROM keys').all() as typeof stored;
    db.close();
  });
  after(async () => {
    await s.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  async function refused(headers: Record<string, string>, what: string, path = '/api/chat'): Promise<void> {
    s.emu.reset();
    const res = await hit(s.gw.url, 'POST', path, { headers: { 'content-type': 'application/json', ...headers }, body: chat });
    assert.ok(res.status === 401 || res.status === 403, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
    assert.ok(res.headers['x-gatehouse-error'], `${what}: refused by Gatehouse, not by Ollama`);
    assert.equal(upstreamOf(s.emu, res.id).length, 0, `${what} reached Ollama`);
    assert.equal(s.emu.requests.length, 0);
  }

  it('A3: no built-in or default credential works', async () => {
    for (const v of ['changeme', 'admin', 'password', 'secret', 'sk-1234', 'ollama', 'gatehouse', 'gatehouse_', 'initial', 'null', 'undefined', 'true', '0', '*']) {
      await refused({ authorization: `Bearer ${v}` }, `Bearer ${v}`);
      await refused({ 'x-api-key': v }, `x-api-key ${v}`);
      await refused({ authorization: `Basic ${Buffer.from(`admin:${v}`).toString('base64')}` }, `Basic admin:${v}`);
    }
  });

  it('A3: what the store keeps (hash, hint, id, fingerprint, public key) is never a credential', async () => {
    assert.ok(stored.length >= 2);
    for (const row of stored) {
      for (const v of [row.hash, row.hint, row.id, row.fingerprint, row.public_key, row.hash?.toUpperCase()]) {
        if (!v) continue;
        await refused({ authorization: `Bearer ${v}` }, `Bearer <stored ${v.slice(0, 12)}…>`);
        await refused({ 'x-api-key': v }, `x-api-key <stored ${v.slice(0, 12)}…>`);
      }
    }
  });

  it('A3: a near-miss key (one character changed, checksum recomputed or not) is refused', async () => {
    const k = good.key;
    const variants = [k.slice(0, -1), k + 'A', k.toUpperCase(), k.toLowerCase(), k.slice(0, 20), ` ${k}x`, k.replace('gatehouse_', 'gatehouse-'), `${k.slice(0, 30)}${k[30] === 'A' ? 'B' : 'A'}${k.slice(31)}`];
    for (const v of variants) await refused({ authorization: `Bearer ${v}` }, `near-miss ${v.slice(0, 14)}…`);
  });

  it('A4: there is no setup, signup or admin endpoint to claim', async () => {
    for (const p of ['/setup', '/admin', '/admin/', '/signup', '/register', '/login', '/api/auth/login', '/api/keys', '/keys', '/v1/keys', '/api/admin/keys', '/ui', '/dashboard', '/api/v1/auths/signup', '/key/generate']) {
      for (const m of ['GET', 'POST']) {
        s.emu.reset();
        const r = await hit(s.gw.url, m, p, { body: m === 'POST' ? '{"name":"me","password":"x"}' : undefined });
        assert.equal(r.status, 404, `${m} ${p}: ${r.status}`);
        assert.equal(s.emu.requests.length, 0);
      }
    }
  });

  it('A5: each installation generates its own initial key; none ships with the code', async () => {
    const emu = await startEmulator();
    const dirs = [mkdtempSync(join(tmpdir(), 'gatehouse-a5-')), mkdtempSync(join(tmpdir(), 'gatehouse-a5-'))];
    try {
      const keys: string[] = [];
      for (const d of dirs) {
        const gw = await spawnGateway(['serve', '--listen', '127.0.0.1:0', '--upstream', emu.url, '--data-dir', d], { GATEHOUSE_CONFIG: '', GATEHOUSE_LOG__FORMAT: 'json', GATEHOUSE_METRICS__LISTEN: 'off' });
        await gw.stop();
        keys.push(readFileSync(join(d, 'initial-key'), 'utf8').trim());
        assert.equal(statSync(join(d, 'initial-key')).mode & 0o777, 0o600);
      }
      assert.notEqual(keys[0], keys[1]);
      // No key-shaped literal anywhere in the shipped code.
      const shipped: string[] = [];
      const walk = (dir: string): void => {
        for (const n of readdirSync(dir)) {
          const p = join(dir, n);
          if (statSync(p).isDirectory()) walk(p);
          else if (n.endsWith('.js')) shipped.push(readFileSync(p, 'utf8'));
        }
      };
      walk(join(REPO, 'dist/src'));
      assert.ok(shipped.length > 20 && CLI.endsWith('main.js'));
      for (const text of shipped) assert.doesNotMatch(text, /gatehouse_[0-9A-Za-z]{49}/, 'a key literal ships in dist/src');
    } finally {
      await emu.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  it('B5: fabricated Authorization headers never produce a fallback principal (all 401/403, nothing forwarded)', async () => {
    const jwt = 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9.';
    const fabricated: Array<Record<string, string>> = [
      { authorization: 'Bearer' }, { authorization: 'Bearer ' }, { authorization: 'Bearer  ' }, { authorization: 'Bearer null' },
      { authorization: `Bearer ${jwt}` }, { authorization: 'OAuth abc' }, { authorization: 'Negotiate YII=' }, { authorization: 'Digest username="admin"' },
      { authorization: 'AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=00' }, { authorization: 'Basic' }, { authorization: 'Basic =' },
      { authorization: `Basic ${Buffer.from(':').toString('base64')}` }, { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` },
      { authorization: `Basic ${Buffer.from(`${good.key}:`).toString('base64')}` }, { authorization: 'Basic !!!!' }, { authorization: good.key },
      { authorization: `Bearer ${good.key} ${good.key}` }, { authorization: `Bearer ${good.key},x` }, { authorization: `Token ${good.key}` },
      { authorization: `Bearer ${good.key}`, 'x-api-key': 'gatehouse_0000000000000000000000000000000000000000000000000' },
      { 'x-api-key': '' }, { 'x-api-key': ' ' }, { 'x-api-key': `Bearer ${good.key}` }, { authorization: 'Bearer :' }, { authorization: ':' },
      { authorization: `${'A'.repeat(68)}:${'A'.repeat(86)}==` }, { 'proxy-authorization': `Bearer ${good.key}` }, { cookie: `key=${good.key}` },
      { 'x-forwarded-user': 'admin', 'x-remote-user': 'admin', 'x-auth-request-user': 'admin' }, { 'openai-api-key': good.key }, { 'api-key': good.key },
    ];
    for (const h of fabricated) await refused(h, JSON.stringify(h).slice(0, 80));
  });

  it('B5: a key in the query string or the body is not a credential', async () => {
    s.emu.reset();
    const q = await hit(s.gw.url, 'GET', `/api/tags?key=${good.key}&api_key=${good.key}`);
    assert.equal(q.status, 401);
    const b = await hit(s.gw.url, 'POST', '/api/chat', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3', api_key: good.key, key: good.key, messages: [] }) });
    assert.equal(b.status, 401);
    assert.equal(s.emu.requests.length, 0);
  });

  it('B5: two Authorization headers are not resolved in favour of a valid one sent second', async () => {
    s.emu.reset();
    const r = await hit(s.gw.url, 'POST', '/api/chat', { headers: ['authorization', 'Bearer not-a-key', 'authorization', `Bearer ${good.key}`, 'content-type', 'application/json'], body: chat });
    assert.equal(r.status, 401, r.body);
    assert.equal(s.emu.requests.length, 0);
  });

  it('B8: SQL-injection-shaped keys are plain non-matching strings; the store is intact afterwards', async () => {
    const payloads = [
      "' OR '1'='1", "' OR 1=1 --", "gatehouse_' OR '1'='1' --", '"; DROP TABLE keys; --', "gatehouse_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' UNION SELECT hash FROM keys --",
      "1; UPDATE keys SET revoked_at = NULL; --", "%' OR hash LIKE '%", "\\' OR 1=1 #", "' || (SELECT hash FROM keys LIMIT 1) || '", `${good.key}' --`, `${good.key.slice(0, 20)}%`,
    ];
    for (const p of payloads) {
      await refused({ authorization: `Bearer ${p}` }, `Bearer ${p}`);
      await refused({ 'x-api-key': p }, `x-api-key ${p}`);
      await refused({ authorization: `Basic ${Buffer.from(`${p}:${p}`).toString('base64')}` }, `Basic ${p}`);
    }
    // An Ed25519 token whose key part carries SQL is refused as malformed before any lookup.
    await refused({ authorization: `${"' OR 1=1 --".padEnd(68, 'A')}:${'A'.repeat(86)}==` }, 'SQL in an Ed25519 key part');
    const ok = await hit(s.gw.url, 'POST', '/api/chat', { headers: { authorization: `Bearer ${good.key}` }, body: chat });
    assert.equal(ok.status, 200, 'the real key still works');
    const list = JSON.parse(s.cli(['keys', 'list', '--json']).stdout) as Array<{ name: string; revoked_at: string | null }>;
    assert.deepEqual(list.map((k) => k.name).sort(), ['good', 'initial', 'laptop']);
    assert.ok(list.every((k) => k.revoked_at === null));
  });

  it('B8: a key name full of SQL is stored and shown verbatim', async () => {
    const name = "x'); DROP TABLE keys; --";
    const before = (JSON.parse(s.cli(['keys', 'list', '--json']).stdout) as unknown[]).length;
    const created = s.cli(['keys', 'create', '--name', name, '--json']);
    assert.equal(created.code, 0, created.stderr);
    const list = JSON.parse(s.cli(['keys', 'list', '--json']).stdout) as Array<{ name: string }>;
    assert.ok(list.some((k) => k.name === name));
    assert.equal(list.length, before + 1);
  });

  describe('Ed25519 tokens cannot be moved to another request', () => {
    const ts = (): number => Math.floor(Date.now() / 1000);
    const send = async (method: string, target: string, authorization: string, body?: string) => {
      s.emu.reset();
      const r = await hit(s.gw.url, method, target, { headers: { authorization }, body });
      return { r, forwarded: s.emu.requests.length };
    };
    it('B5: a token for GET /api/tags is refused on POST /api/chat, on another path spelling and with extra query parameters', async () => {
      const t = ts();
      const tok = signer.signRequest({ method: 'GET', path: '/api/tags', nowSec: t }).authorization;
      const good = (await send('GET', `/api/tags?ts=${t}`, tok)).r;
      assert.equal(good.status, 200, `the token itself is good: ${good.body.slice(0, 300)}`);
      for (const [m, target] of [
        ['POST', `/api/chat?ts=${t}`], ['GET', `/api/ps?ts=${t}`], ['GET', `/api/tags?ts=${t}&model=x`], ['GET', `/api/tags?model=x&ts=${t}`],
        ['GET', `/api/tags?ts=${t}&ts=${t}`], ['GET', `/api/tags?ts=0${t}`], ['GET', `/api/tags?TS=${t}`], ['GET', '/api/tags'], ['HEAD', `/api/tags?ts=${t}`],
      ] as const) {
        const { r, forwarded } = await send(m, target, tok, m === 'POST' ? chat : undefined);
        assert.ok(r.status === 403 || r.status === 401, `${m} ${target}: ${r.status} ${r.body.slice(0, 120)}`);
        assert.equal(forwarded, 0);
      }
    });
    it('B5: the heartbeat token (HEAD /, public) is worthless anywhere else', async () => {
      const t = ts();
      const tok = signer.signRequest({ method: 'HEAD', path: '/', nowSec: t }).authorization;
      for (const [m, target] of [['GET', `/?ts=${t}`], ['GET', `/api/tags?ts=${t}`], ['POST', `/api/chat?ts=${t}`], ['HEAD', `/api/version?ts=${t}`]] as const) {
        const { r, forwarded } = await send(m, target, tok, m === 'POST' ? chat : undefined);
        if (target.startsWith('/?')) assert.equal(r.status, 200, 'public anyway');
        else {
          assert.ok(r.status === 403, `${m} ${target}: ${r.status}`);
          assert.equal(forwarded, 0);
        }
      }
    });
  });
});

describe('failed-authentication flood from one address (limits.auth_failures)', () => {
  let s: Stack;
  let victimKey: string;
  let attackerKey: string;
  const ATTACKER = '127.0.0.2';
  const VICTIM = '127.0.0.3';

  before(async () => {
    s = await startStack({ config: { metrics: { listen: 'off' }, limits: { auth_failures: { max: 10, window: '1m' } } } });
    victimKey = (await s.createKey('victim', ['--scopes', 'inference,models:read'])).key;
    attackerKey = (await s.createKey('attacker-own', ['--scopes', 'inference,models:read'])).key;
  });
  after(() => s.close());

  it('auth-failure flood: past limits.auth_failures.max the attacker gets 429 with Retry-After, even while rotating X-Forwarded-For', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    try {
      const replies = await pool(8, Array.from({ length: 60 }, (_, i) => () => hit(s.gw.url, 'GET', '/api/tags', { agent, localAddress: ATTACKER, headers: { authorization: `Bearer gatehouse_${String(i).padStart(49, '0')}`, 'x-forwarded-for': `10.0.${i}.1`, 'x-real-ip': `10.1.${i}.1` } })));
      const codes = replies.map((r) => r.status);
      assert.equal(codes.filter((c) => c === 401).length, 10, codes.join(','));
      assert.equal(codes.filter((c) => c === 429).length, 50);
      const limited = replies.find((r) => r.status === 429)!;
      assert.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After is set');
      assert.equal(s.emu.requests.length, 0);
      // Only failures count: the attacker's address may still use a valid key (shared NAT).
      const own = await hit(s.gw.url, 'GET', '/api/tags', { localAddress: ATTACKER, headers: { authorization: `Bearer ${attackerKey}` } });
      assert.equal(own.status, 200);
    } finally {
      agent.destroy();
    }
  });

  it('auth-failure flood: 3,000 failures from one address do not slow or block a client at another address', async () => {
    const victimAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const victim = () => hit(s.gw.url, 'POST', '/api/chat', { agent: victimAgent, localAddress: VICTIM, headers: { authorization: `Bearer ${victimKey}` }, body: chat });
    const baseline: number[] = [];
    for (let i = 0; i < 20; i++) baseline.push((await victim()).ms);
    const attackerAgent = new Agent({ keepAlive: true, maxSockets: 32 });
    let stop = false;
    const flood = pool(32, Array.from({ length: 3000 }, (_, i) => async () => {
      if (stop) return 0;
      return (await hit(s.gw.url, 'POST', '/api/chat', { agent: attackerAgent, localAddress: ATTACKER, headers: { authorization: `Bearer gatehouse_${String(i).padStart(49, 'x')}` }, body: chat })).status;
    }));
    const during: number[] = [];
    const codes: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await victim();
      codes.push(r.status);
      during.push(r.ms);
      await sleep(10);
    }
    stop = true;
    const attackerCodes = await flood;
    victimAgent.destroy();
    attackerAgent.destroy();
    assert.ok(codes.every((c) => c === 200), `victim got ${codes.join(',')}`);
    assert.ok(attackerCodes.filter((c) => c !== 0).every((c) => c === 401 || c === 429));
    // Generous bounds: the victim's median stays within 25 ms + 10× its quiet median, p95 under a second.
    const quiet = median(baseline);
    assert.ok(median(during) < 25 + 10 * quiet, `median ${median(during).toFixed(1)} ms under flood vs ${quiet.toFixed(1)} ms quiet`);
    assert.ok(percentile(during, 95) < 1000, `p95 ${percentile(during, 95).toFixed(1)} ms`);
    assert.equal(s.emu.requests.filter((r) => r.url === '/api/chat').length, 20 + 40, 'only the victim reached Ollama');
  });
});
