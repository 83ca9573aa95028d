import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.js';
import { hit } from '../audit/http.js';

/**
 * Issue #21, policies through the CLI in front of a running gateway: a key takes its policy's
 * scopes and models; a policy change reaches the running gateway within a second, with no
 * restart; a policy that keys use cannot be deleted.
 */

const generate = (model: string) => ({ path: '/api/generate', body: { model, prompt: 'hi', stream: false } });

/** Polls until `ok(status)` holds for one request; returns the ms it took. */
async function until(url: string, req: { path: string; body?: unknown }, key: string, ok: (status: number) => boolean, timeoutMs = 3000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const r = await hit(url, { ...req, key });
    if (ok(r.status)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`still ${r.status} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

describe('policies (CLI and a running gateway)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ config: { metrics: { listen: 'off' } } });
  });
  after(async () => {
    await s?.close();
  });

  it('a key with a policy is allowed and refused by the policy\'s scopes and models', async () => {
    const c = s.cli(['policies', 'create', 'chat-only', '--scopes', 'inference', '--models', 'llama3*', '--rpm', '100']);
    assert.equal(c.code, 0, c.stderr);
    const { key } = await s.createKey('with-policy', ['--policy', 'chat-only']);
    assert.equal((await hit(s.gw.url, { ...generate('llama3'), key })).status, 200);
    assert.equal((await hit(s.gw.url, { ...generate('qwen2.5:7b'), key })).status, 404, 'a model outside the allowlist is answered as missing');
    assert.equal((await hit(s.gw.url, { path: '/api/tags', key })).status, 403, 'no models:read in the policy');
  });

  it('keys create --policy refuses the flags the policy decides, and an unknown policy', () => {
    const r = s.cli(['keys', 'create', '--name', 'x1', '--policy', 'chat-only', '--scopes', 'admin']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--scopes: a key with --policy takes its scopes, models, limits and clamps from policy "chat-only"/);
    const u = s.cli(['keys', 'create', '--name', 'x2', '--policy', 'nope']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /no policy "nope"/);
  });

  it('policies update reaches the running gateway within a second, without a restart', async (t) => {
    assert.equal(s.cli(['policies', 'create', 'growing', '--scopes', 'inference', '--models', 'llama3']).code, 0);
    const { key } = await s.createKey('grows', ['--policy', 'growing']);
    await until(s.gw.url, generate('mistral'), key, (st) => st === 404);
    await until(s.gw.url, { path: '/api/tags' }, key, (st) => st === 403);
    const u = s.cli(['policies', 'update', 'growing', '--scopes', 'inference,models:read', '--models', 'llama3,mistral']);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /1 key uses it/);
    const took = await Promise.all([until(s.gw.url, generate('mistral'), key, (st) => st === 200), until(s.gw.url, { path: '/api/tags' }, key, (st) => st === 200)]);
    // And back: narrowing takes effect as fast.
    assert.equal(s.cli(['policies', 'update', 'growing', '--models', 'llama3']).code, 0);
    took.push(await until(s.gw.url, generate('mistral'), key, (st) => st === 404));
    t.diagnostic(`policy changes applied after ${took.join(' / ')} ms`);
    for (const ms of took) assert.ok(ms < 1000, `${ms} ms`);
  });

  it('a key moved off its policy keeps what the policy granted; keys update refuses grant flags while a policy is set', async () => {
    assert.equal(s.cli(['policies', 'create', 'movable', '--scopes', 'inference', '--models', 'qwen2.5:*']).code, 0);
    const { id, key } = await s.createKey('mover', ['--policy', 'movable']);
    const refused = s.cli(['keys', 'update', id, '--models', '*']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--models: key "mover" takes its scopes, models, limits and clamps from policy "movable"/);
    const r = s.cli(['keys', 'update', id, '--no-policy', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { policy: unknown; scopes: string[]; models: string[] };
    assert.deepEqual([j.policy, j.scopes, j.models], [null, ['inference'], ['qwen2.5:*']]);
    // A later change of the policy no longer touches the key.
    assert.equal(s.cli(['policies', 'update', 'movable', '--models', 'llama3']).code, 0);
    await new Promise((res) => setTimeout(res, 600));
    assert.equal((await hit(s.gw.url, { ...generate('qwen2.5:7b'), key })).status, 200);
    assert.equal((await hit(s.gw.url, { ...generate('llama3'), key })).status, 404);
  });

  it('delete is refused while a key uses the policy, naming the keys; allowed once none does', async () => {
    assert.equal(s.cli(['policies', 'create', 'doomed']).code, 0);
    const { id } = await s.createKey('holder', ['--policy', 'doomed'], { wait: false });
    const show = JSON.parse(s.cli(['policies', 'show', 'doomed', '--json']).stdout) as { keys: number; key_names: string[] };
    assert.deepEqual([show.keys, show.key_names], [1, ['holder']]);
    const r = s.cli(['policies', 'delete', 'doomed']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /policy "doomed" is used by 1 key that is not revoked.*Nothing was deleted\.\nKeys using it: holder/s);
    assert.equal(s.cli(['keys', 'revoke', id]).code, 0);
    const d = s.cli(['policies', 'delete', 'doomed']);
    assert.equal(d.code, 0, d.stderr);
    assert.ok(!s.cli(['policies', 'list']).stdout.includes('doomed'));
    // The revoked key still names its (deleted) policy.
    assert.match(s.cli(['keys', 'show', id]).stdout, /doomed \(pol_\w+, deleted/);
  });

  it('every policy change is in the admin trail, with who and what', () => {
    const ev = s.cli(['audit', '--admin', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { actor: string; action: string; detail: Record<string, unknown> });
    const pol = ev.filter((e) => e.action.startsWith('policy.'));
    assert.ok(pol.some((e) => e.action === 'policy.update' && e.detail.name === 'growing' && (e.detail.models as { to: unknown }).to !== undefined));
    assert.ok(pol.some((e) => e.action === 'policy.delete' && e.detail.name === 'doomed'));
    assert.ok(pol.every((e) => /^cli:.+@.+/.test(e.actor)));
  });

  it('policies --help lists the verbs; gatehouse --help lists the command', () => {
    assert.match(s.cli(['policies', '--help']).stdout, /gatehouse policies create NAME/);
    assert.match(s.cli(['policies', 'create', '--help']).stdout, /--concurrency N/);
    assert.match(s.cli(['--help']).stdout, /gatehouse policies list\|show\|create\|update\|delete/);
  });
});
