import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send } from '../helpers/http.js';
import { generateEcdsaKeyPair, generateKeyPair, generateRsaKeyPair, loadOllamaSigner, sshKeygenFingerprint, type OllamaSigner } from '../helpers/ollama-signer.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';

/**
 * The ollama CLI's Ed25519-signed requests (OLLAMA_AUTH=1) through a real gateway process. Tokens
 * come from an independent signer (sshpk + node:crypto over a key made by ssh-keygen), exactly in
 * the CLI's format: `Authorization: <pubkey b64>:<sig b64>` over `METHOD,PATH?ts=N`.
 */

const keyDir = mkdtempSync(join(tmpdir(), 'gatehouse-ssh-'));
after(() => rmSync(keyDir, { recursive: true, force: true }));

function signed(signer: OllamaSigner, method: string, path: string, nowSec?: number) {
  const r = signer.signRequest({ method, path, ...(nowSec !== undefined ? { nowSec } : {}) });
  return { url: r.url, headers: { authorization: r.authorization } };
}

describe('ollama CLI Ed25519 authentication', () => {
  let s: Stack;
  let cli: OllamaSigner;
  let cliPub: string;
  let stranger: OllamaSigner;
  let strangerPub: string;
  let readOnly: OllamaSigner;
  let mistralOnly: OllamaSigner;

  before(async () => {
    s = await startStack({ config: { limits: { auth_failures: { max: 0 } } } });
    const k1 = generateKeyPair(keyDir, 'ed25519', 'id_cli');
    const k2 = generateKeyPair(keyDir, 'ed25519', 'id_stranger');
    const k3 = generateKeyPair(keyDir, 'ed25519', 'id_readonly');
    const k4 = generateKeyPair(keyDir, 'ed25519', 'id_mistral');
    cli = loadOllamaSigner(readFileSync(k1.privateKeyPath));
    cliPub = k1.publicKeyPath;
    stranger = loadOllamaSigner(readFileSync(k2.privateKeyPath));
    strangerPub = readFileSync(k2.publicKeyPath, 'utf8').trim();
    readOnly = loadOllamaSigner(readFileSync(k3.privateKeyPath));
    mistralOnly = loadOllamaSigner(readFileSync(k4.privateKeyPath));
    assert.equal(s.cli(['keys', 'add-ssh', '--name', 'laptop', '--pubkey-file', k1.publicKeyPath]).code, 0);
    assert.equal(s.cli(['keys', 'add-ssh', '--name', 'reader', '--pubkey', readFileSync(k3.publicKeyPath, 'utf8'), '--scopes', 'models:read']).code, 0);
    assert.equal(s.cli(['keys', 'add-ssh', '--name', 'mistral', '--pubkey-file', k4.publicKeyPath, '--models', 'mistral']).code, 0);
    await settle();
  });
  after(() => s.close());

  it('signed requests are accepted on every route class, and ts/Authorization never reach Ollama', async () => {
    for (const [method, path, body] of [
      ['HEAD', '/', undefined],
      ['GET', '/api/tags', undefined],
      ['GET', '/api/version', undefined],
      ['POST', '/api/show', JSON.stringify({ model: 'llama3' })],
      ['POST', '/api/chat', JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] })],
      ['POST', '/api/generate', JSON.stringify({ model: 'llama3', prompt: 'hi', stream: false })],
      ['GET', '/v1/models/llama3:latest', undefined],
    ] as const) {
      s.emu.reset();
      const r = signed(cli, method, path);
      const res = await send(s.gw.url, method, r.url, { headers: r.headers, ...(body ? { body } : {}) });
      assert.equal(res.status, 200, `${method} ${path}: ${res.status} ${res.body}`);
      const seen = s.emu.requests[0]!;
      assert.equal(seen.url, path, 'the ts query is stripped');
      assert.equal(seen.headers.authorization, undefined);
    }
  });

  it('a "Bearer " prefix is tolerated', async () => {
    const r = signed(cli, 'GET', '/api/tags');
    const res = await send(s.gw.url, 'GET', r.url, { headers: { authorization: `Bearer ${r.headers.authorization}` } });
    assert.equal(res.status, 200);
  });

  it('an unregistered key is told its fingerprint and the exact command for the operator (403, so the CLI prints it)', async () => {
    s.emu.reset();
    const r = signed(stranger, 'GET', '/api/tags');
    const res = await send(s.gw.url, 'GET', r.url, { headers: r.headers });
    assert.equal(res.status, 403);
    const msg = JSON.parse(res.body).error as string;
    const fp = sshKeygenFingerprint(join(keyDir, 'id_stranger.pub'));
    assert.ok(msg.includes(fp), msg);
    assert.ok(msg.includes(`gatehouse keys add-ssh --name <your name> --pubkey "${strangerPub.split(' ').slice(0, 2).join(' ')}"`), msg);
    assert.equal(s.emu.requests.length, 0);
  });

  it('tampered method, path, ts or signature is refused', async () => {
    const r = signed(cli, 'GET', '/api/tags');
    const ts = r.url.split('ts=')[1]!;
    const cases: Array<[string, string, Record<string, string>]> = [
      ['POST', r.url.replace('/api/tags', '/api/show'), r.headers],
      ['GET', r.url.replace('/api/tags', '/api/ps'), r.headers],
      ['GET', `/api/tags?ts=${Number(ts) + 1}`, r.headers],
      ['GET', r.url, { authorization: r.headers.authorization.replace(/.(==)$/, (m) => (m[0] === 'A' ? 'B' : 'A') + '==') }],
    ];
    for (const [method, url, headers] of cases) {
      s.emu.reset();
      const res = await send(s.gw.url, method, url, { headers, ...(method === 'POST' ? { body: '{"model":"llama3"}' } : {}) });
      assert.equal(res.status, 403, `${method} ${url}: ${res.body}`);
      assert.equal(s.emu.requests.length, 0);
    }
  });

  it('a stale or future timestamp is refused with a message that says the clock is off', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const t of [now - 301, now + 301, now - 3600]) {
      const r = signed(cli, 'GET', '/api/tags', t);
      const res = await send(s.gw.url, 'GET', r.url, { headers: r.headers });
      assert.equal(res.status, 403);
      assert.match(JSON.parse(res.body).error, /clock is off/);
    }
    const ok = signed(cli, 'GET', '/api/tags', now - 290);
    assert.equal((await send(s.gw.url, 'GET', ok.url, { headers: ok.headers })).status, 200);
  });

  it('RSA and ECDSA keys are refused with a clear message', async () => {
    for (const kp of [generateRsaKeyPair(keyDir), generateEcdsaKeyPair(keyDir)]) {
      const signer = loadOllamaSigner(readFileSync(kp.privateKeyPath));
      const r = signer.signRequest({ method: 'GET', path: '/api/tags' });
      const res = await send(s.gw.url, 'GET', r.url, { headers: { authorization: r.authorization } });
      assert.equal(res.status, 403);
      assert.match(JSON.parse(res.body).error, /key type (ssh-rsa|ecdsa-sha2-nistp256) is not supported/);
    }
    const added = s.cli(['keys', 'add-ssh', '--name', 'rsa', '--pubkey-file', join(keyDir, 'id_rsa.pub')]);
    assert.equal(added.code, 2);
    assert.match(added.stderr, /ssh-rsa is not supported/);
  });

  it('a registered key limited by scope or model is refused exactly like an API key', async () => {
    s.emu.reset();
    const chat = signed(readOnly, 'POST', '/api/chat');
    const a = await send(s.gw.url, 'POST', chat.url, { headers: chat.headers, body: JSON.stringify({ model: 'llama3', messages: [] }) });
    assert.equal(a.status, 403);
    assert.match(JSON.parse(a.body).error, /lacks the "inference" scope/);
    const gen = signed(mistralOnly, 'POST', '/api/generate');
    const b = await send(s.gw.url, 'POST', gen.url, { headers: gen.headers, body: JSON.stringify({ model: 'llama3', prompt: 'x' }) });
    assert.equal(b.status, 404);
    assert.equal(JSON.parse(b.body).error, "model 'llama3' not found");
    assert.equal(s.emu.requests.length, 0);
    const tags = signed(mistralOnly, 'GET', '/api/tags');
    const list = JSON.parse((await send(s.gw.url, 'GET', tags.url, { headers: tags.headers })).body) as { models: Array<{ name: string }> };
    assert.deepEqual(list.models.map((m) => m.name), ['mistral:latest']);
  });

  it('keys list and show carry the SHA256 fingerprint exactly as ssh-keygen -lf prints it', () => {
    const fp = sshKeygenFingerprint(cliPub);
    const list = JSON.parse(s.cli(['keys', 'list', '--json']).stdout) as Array<{ name: string; fingerprint: string }>;
    assert.equal(list.find((k) => k.name === 'laptop')!.fingerprint, fp);
    assert.ok(s.cli(['keys', 'show', 'laptop']).stdout.includes(fp));
  });

  it('a revoked SSH key is refused within a second', async () => {
    const kp = generateKeyPair(keyDir, 'ed25519', 'id_revoke');
    const signer = loadOllamaSigner(readFileSync(kp.privateKeyPath));
    const added = JSON.parse(s.cli(['keys', 'add-ssh', '--name', 'soon-revoked', '--pubkey-file', kp.publicKeyPath, '--json']).stdout) as { id: string };
    await settle();
    let r = signed(signer, 'GET', '/api/tags');
    assert.equal((await send(s.gw.url, 'GET', r.url, { headers: r.headers })).status, 200);
    assert.equal(s.cli(['keys', 'revoke', added.id]).code, 0);
    await settle(1000);
    r = signed(signer, 'GET', '/api/tags');
    const res = await send(s.gw.url, 'GET', r.url, { headers: r.headers });
    assert.equal(res.status, 403);
    assert.match(JSON.parse(res.body).error, /revoked/);
  });
});

describe('Ed25519 options: base_path, replay guard, authorized_keys file', () => {
  let s: Stack;
  let signer: OllamaSigner;
  let other: OllamaSigner;
  let akFile: string;
  let otherLine: string;

  before(async () => {
    const kp = generateKeyPair(keyDir, 'ed25519', 'id_opts');
    const kp2 = generateKeyPair(keyDir, 'ed25519', 'id_opts2');
    signer = loadOllamaSigner(readFileSync(kp.privateKeyPath));
    other = loadOllamaSigner(readFileSync(kp2.privateKeyPath));
    otherLine = readFileSync(kp2.publicKeyPath, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    akFile = join(keyDir, 'authorized_keys');
    writeFileSync(akFile, `# team keys\n${otherLine} robot /api/tags,/api/version\n`);
    s = await startStack({ config: { base_path: '/ollama', ssh: { replay: 'once', authorized_keys: akFile } } });
    assert.equal(s.cli(['keys', 'add-ssh', '--name', 'opts', '--pubkey-file', kp.publicKeyPath]).code, 0);
    await settle();
  });
  after(() => s.close());

  it('under a mount prefix the signature covers the path without it (OLLAMA_HOST=https://gw/ollama)', async () => {
    const r = signed(signer, 'GET', '/api/tags');
    const res = await send(s.gw.url, 'GET', `/ollama${r.url}`, { headers: r.headers });
    assert.equal(res.status, 200, res.body);
    const bare = await send(s.gw.url, 'GET', r.url, { headers: r.headers });
    assert.equal(bare.status, 404);
  });

  it('ssh.replay: once accepts a token a single time', async () => {
    const r = signed(signer, 'GET', '/api/version');
    assert.equal((await send(s.gw.url, 'GET', `/ollama${r.url}`, { headers: r.headers })).status, 200);
    const again = await send(s.gw.url, 'GET', `/ollama${r.url}`, { headers: r.headers });
    assert.equal(again.status, 403);
    assert.match(JSON.parse(again.body).error, /already used/);
  });

  it('authorized_keys principals are limited to their endpoint list, and the file is reloaded on change', async () => {
    let r = signed(other, 'GET', '/api/tags');
    assert.equal((await send(s.gw.url, 'GET', `/ollama${r.url}`, { headers: r.headers })).status, 200);
    r = signed(other, 'GET', '/api/ps');
    const denied = await send(s.gw.url, 'GET', `/ollama${r.url}`, { headers: r.headers });
    assert.equal(denied.status, 403);
    assert.match(JSON.parse(denied.body).error, /endpoint list/);
    writeFileSync(akFile, `${otherLine} robot /api/tags,/api/version,/api/ps\n`);
    await settle(2500);
    r = signed(other, 'GET', '/api/ps');
    assert.equal((await send(s.gw.url, 'GET', `/ollama${r.url}`, { headers: r.headers })).status, 200);
  });
});
