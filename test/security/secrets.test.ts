import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, loadOllamaSigner } from '../helpers/ollama-signer.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';
import { hit } from './support.js';

/**
 * docs/threat-model.md F1–F3: no key, key hash, signed token, prompt or model output in any output Gatehouse
 * produces: its log (at trace level), /metrics, the audit records and usage report, the key CLI's
 * listings, error bodies, health probes, and the data directory at rest.
 */

const PROMPT = 'PROMPT-CANARY-7f3a9c';

describe('threats F1/F2/F3: key material and prompts never appear in any output', () => {
  let s: Stack;
  let key: string;
  let keyId: string;
  let metricsKey: string;
  let revoked: string;
  let sshToken: string;
  const keyDir = mkdtempSync(join(tmpdir(), 'gatehouse-f1-'));
  const errorBodies: string[] = [];

  before(async () => {
    s = await startStack({
      config: {
        routes: { manage: true },
        limits: { auth_failures: { max: 3 } },
        metrics: { listen: 'main' },
        log: { level: 'trace', format: 'json' },
        audit: { flush_interval: '100ms' },
      },
    });
    const k = await s.createKey('alice', ['--scopes', 'inference,models:read']);
    key = k.key;
    keyId = k.id;
    metricsKey = (await s.createKey('scraper', ['--scopes', 'metrics'])).key;
    const r = await s.createKey('old', ['--scopes', 'inference']);
    revoked = r.key;
    assert.equal(s.cli(['keys', 'revoke', r.id]).code, 0);
    const kp = generateKeyPair(keyDir, 'ed25519', 'id_f1');
    assert.equal(s.cli(['keys', 'add-ssh', '--name', 'laptop', '--pubkey-file', kp.publicKeyPath]).code, 0);
    const signer = loadOllamaSigner(readFileSync(kp.privateKeyPath));
    await settle();

    // Every way a key, a token or a prompt can travel through the gateway, allowed and refused.
    const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: PROMPT }], ...extra });
    const traffic: Array<[string, string, Record<string, string>, string | undefined]> = [
      ['POST', '/api/chat', { authorization: `Bearer ${key}` }, chat({ stream: false })],
      ['POST', '/api/chat', { authorization: `Bearer ${key}` }, chat()],
      ['POST', '/api/generate', { 'x-api-key': key }, JSON.stringify({ model: 'llama3', prompt: PROMPT, stream: false })],
      ['POST', '/v1/chat/completions', { authorization: `Basic ${Buffer.from(`me:${key}`).toString('base64')}` }, chat({ stream: true })],
      ['POST', '/api/chat', { authorization: `Bearer ${key}` }, chat({ model: 'mistral:notthere' })],
      ['POST', '/api/pull', { authorization: `Bearer ${key}` }, JSON.stringify({ model: 'llama3' })],
      ['POST', '/api/chat', { authorization: `Bearer ${revoked}` }, chat()],
      ['POST', '/api/chat', { authorization: `Bearer ${key}x` }, chat()],
      ['POST', '/api/chat', { authorization: `Bearer ${key.slice(0, -1)}` }, chat()],
      ['POST', '/api/chat', { authorization: `Token ${key}` }, chat()],
      ['POST', '/api/chat', { authorization: key }, chat()],
      ['POST', '/api/chat', { authorization: `Bearer ${key}`, 'x-api-key': `${key}y` }, chat()],
      ['GET', `/api/tags?api_key=${key}`, {}, undefined],
      ['POST', '/api/chat', { authorization: `Bearer ${key}` }, `{"model":"llama3","messages":[{"role":"user","content":"${PROMPT}"}],"MODEL":"x"}`],
      ['POST', '/api/chat', { authorization: `Bearer ${key}` }, `{"model":"${PROMPT}"`],
      ['GET', '/api/tags', { authorization: `Bearer ${key}`, origin: 'https://evil.example' }, undefined],
      ['GET', '/metrics', { authorization: `Bearer ${key}` }, undefined],
    ];
    const t = signer.signRequest({ method: 'GET', path: '/api/tags' });
    sshToken = t.authorization;
    for (const [m, p, h, b] of traffic) {
      const res = await hit(s.gw.url, m, p, { headers: { 'content-type': 'application/json', ...h }, body: b });
      if (res.status >= 400) errorBodies.push(res.body);
    }
    await hit(s.gw.url, 'GET', t.url, { headers: { authorization: sshToken } });
    const wrongPath = await hit(s.gw.url, 'GET', t.url.replace('/api/tags', '/api/ps'), { headers: { authorization: sshToken } });
    errorBodies.push(wrongPath.body);
    await settle(800); // audit batches flush every 100 ms
  });
  after(async () => {
    await s.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** Every secret, in the forms a careless log line would carry it. */
  function secrets(): Array<[string, string]> {
    const sig = sshToken.split(':')[1]!;
    return [
      ['API key', key],
      ['API key body', key.slice('gatehouse_'.length)],
      ['API key hash', createHash('sha256').update(key).digest('hex')],
      ['metrics key', metricsKey],
      ['revoked key', revoked],
      ['Ed25519 signature', sig],
      ['Ed25519 signature (first 40 chars)', sig.slice(0, 40)],
    ];
  }
  function assertClean(what: string, text: string, extra: Array<[string, string]> = []): void {
    for (const [name, value] of [...secrets(), ...extra]) assert.ok(!text.includes(value), `${what} contains the ${name}`);
    assert.doesNotMatch(text, /gatehouse_[0-9A-Za-z]{20,}/, `${what} contains something key-shaped`);
  }

  it('F1: the gateway log (trace level) holds no key, hash, token, prompt or model output', () => {
    const logs = s.gw.logs();
    assert.ok(logs.includes('request refused'), 'the log did record the requests');
    assertClean('the log', logs, [['prompt', PROMPT], ['model output', 'Hello from the Ollama emulator']]);
  });

  it('F1: error bodies sent to clients never echo a key or token', () => {
    assert.ok(errorBodies.length >= 10);
    for (const b of errorBodies) assertClean(`error body ${b.slice(0, 80)}`, b);
  });

  it('F1: audit records and the usage report hold no key, hash, token or prompt', () => {
    const audit = s.cli(['audit', '--json', '--limit', '1000']);
    assert.equal(audit.code, 0, audit.stderr);
    assert.ok(audit.stdout.split('\n').filter(Boolean).length >= 15, 'the audit log recorded the traffic');
    assertClean('gatehouse audit', audit.stdout, [['prompt', PROMPT]]);
    const admin = s.cli(['audit', '--admin', '--json']);
    assertClean('gatehouse audit --admin', admin.stdout + admin.stderr);
    const usage = s.cli(['usage', '--json']);
    assertClean('gatehouse usage', usage.stdout + usage.stderr, [['prompt', PROMPT]]);
  });

  it('F1: at rest, the data directory holds no key (only its hash) and no prompt', () => {
    for (const f of readdirSync(s.dataDir)) {
      if (f === 'initial-key' || f === 'gatehouse.yaml') continue;
      const bytes = readFileSync(join(s.dataDir, f)).toString('latin1');
      for (const [name, value] of [['API key', key], ['metrics key', metricsKey], ['revoked key', revoked], ['prompt', PROMPT], ['Ed25519 signature', sshToken.split(':')[1]!]]) {
        assert.ok(!bytes.includes(value!), `${f} contains the ${name}`);
      }
    }
  });

  it('F1: keys list / show (text and JSON) print neither a key nor its hash', () => {
    for (const args of [['keys', 'list'], ['keys', 'list', '--json'], ['keys', 'show', keyId], ['keys', 'show', keyId, '--json']]) {
      const r = s.cli(args);
      assert.equal(r.code, 0, r.stderr);
      assertClean(args.join(' '), r.stdout + r.stderr);
    }
  });

  it('F2: the health probes say nothing about keys, config or the upstream beyond up/down', async () => {
    for (const p of ['/healthz', '/readyz']) {
      const r = await hit(s.gw.url, 'GET', p, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(r.status, 200);
      assertClean(p, r.body);
      assert.ok(!r.body.includes(s.emu.url) && !r.body.includes(String(s.emu.port)), `${p} names the upstream`);
      assert.ok(!r.body.includes(s.dataDir), `${p} names the data dir`);
    }
  });

  it('F3: /metrics on the main listener needs a key with the metrics scope', async () => {
    // From a fresh address: the traffic above used up 127.0.0.1's failed-auth allowance on purpose.
    assert.equal((await hit(s.gw.url, 'GET', '/metrics', { localAddress: '127.0.0.5' })).status, 401);
    assert.equal((await hit(s.gw.url, 'GET', '/metrics', { headers: { authorization: `Bearer ${key}` } })).status, 403);
    const ok = await hit(s.gw.url, 'GET', '/metrics', { headers: { authorization: `Bearer ${metricsKey}` } });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /gatehouse_requests_total/);
  });

  it('F3: metrics labels carry key names, never keys, hashes or key ids', async () => {
    const m = (await hit(s.gw.url, 'GET', '/metrics', { headers: { authorization: `Bearer ${metricsKey}` } })).body;
    assertClean('/metrics', m, [['prompt', PROMPT], ['key id', keyId]]);
    assert.match(m, /principal="alice"/, 'per-key series are labelled with the key name');
  });
});

describe('threats F3: the separate metrics listener', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ config: { metrics: { listen: '127.0.0.1:0' }, limits: { auth_failures: { max: 0 } } } });
  });
  after(() => s.close());

  it('F3: defaults to loopback and refuses DNS-rebinding Host values', async () => {
    const m = /"metrics_url":"(http:\/\/[^"]+)"/.exec(s.gw.logs());
    assert.ok(m, 'the metrics URL is logged');
    const url = new URL(m[1]!);
    assert.equal(url.hostname, '127.0.0.1');
    const base = `http://${url.host}`;
    assert.equal((await hit(base, 'GET', '/metrics')).status, 200);
    for (const host of ['evil.example', 'attacker.rebind.example:9464', `localhost.evil.example:${url.port}`]) {
      assert.equal((await hit(base, 'GET', '/metrics', { headers: { host } })).status, 403, host);
    }
    assert.equal((await hit(base, 'GET', '/api/tags')).status, 404, 'the metrics listener serves nothing else');
  });
});
