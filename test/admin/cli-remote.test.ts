import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send } from '../helpers/http.js';
import { cli, settle, startStack, type Stack } from '../helpers/stack.js';

/**
 * The CLI on the local store and through the admin API (--url/--token, GATEHOUSE_URL/_TOKEN)
 * prints the same, and `keys rotate` works both ways.
 */

let stack: Stack;
let root: { id: string; key: string };
/** The end of the traffic the reports compare: the admin API requests the comparison makes come after it. */
let cut = '';

const local = (args: string[]) => stack.cli(args);
const remote = (args: string[]) => stack.cli([...args, '--url', stack.gw.url, '--token', root.key]);
const ok = (r: { code: number; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};
const tags = (key: string) => send(stack.gw.url, 'GET', '/api/tags', { headers: { authorization: `Bearer ${key}` } });

before(async () => {
  stack = await startStack({ config: { admin: { listen: 'main' } } });
  root = await stack.createKey('root', ['--scopes', 'admin,models:read'], { wait: false });
  ok(local(['policies', 'create', 'team', '--scopes', 'inference', '--rpm', '30']));
  await stack.createKey('alice', ['--policy', 'team'], { wait: false });
  await stack.createKey('bob', ['--models', 'llama3*', '--rpm', '10']);
  for (let i = 0; i < 3; i++) await tags(root.key);
  await new Promise((r) => setTimeout(r, 1500)); // the audit writer's batch
  cut = new Date().toISOString();
});

/**
 * The token's own key is used by every --url run, so its last-used time moves between the two
 * runs: that one value is blanked on its line (text) or record (JSON).
 */
function normal(out: string): string {
  const blank = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(blank);
    if (v && typeof v === 'object') {
      const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, blank(x)]));
      return o.id === root.id && 'last_used_at' in o ? { ...o, last_used_at: 'T' } : o;
    }
    return v;
  };
  return out
    .split('\n')
    .map((l) => {
      if (!l.includes(root.id)) return l;
      if (/^[[{]/.test(l)) return JSON.stringify(blank(JSON.parse(l)));
      return l.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'T').replace(/ -$/, ' T');
    })
    .join('\n');
}
after(async () => {
  await stack?.close();
});

describe('the CLI through the admin API prints what it prints on the local store', () => {
  const same = [
    ['keys', 'list'],
    ['keys', 'list', '--json'],
    ['keys', 'show', 'bob'],
    ['keys', 'show', 'alice', '--json'],
    ['policies', 'list'],
    ['policies', 'show', 'team', '--json'],
    ['usage', '--since', '2020-01-01', '--until', 'CUT'],
    ['usage', '--since', '2020-01-01', '--until', 'CUT', '--by', 'model', '--json'],
    ['audit', '--since', '2020-01-01', '--json', '--limit', '3'],
    ['audit', '--admin', '--since', '2020-01-01', '--limit', '5'],
  ];
  for (const args of same) {
    it(`gatehouse ${args.join(' ')}`, () => {
      const a = args.map((x) => (x === 'CUT' ? cut : x));
      assert.equal(normal(ok(remote(a))), normal(ok(local(a))));
    });
  }

  it('GATEHOUSE_URL and GATEHOUSE_TOKEN work as the flags do; a token without the admin scope is told so', () => {
    const viaEnv = cli(['keys', 'list'], { GATEHOUSE_CONFIG: stack.configFile, GATEHOUSE_URL: stack.gw.url, GATEHOUSE_TOKEN: root.key });
    assert.equal(normal(ok(viaEnv)), normal(ok(local(['keys', 'list']))));
    assert.doesNotMatch(viaEnv.stderr, /does not name a setting/);
    const r = stack.cli(['keys', 'list', '--url', stack.gw.url, '--token', 'gatehouse_nope']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GW_ERR_AUTH_INVALID/);
    assert.match(stack.cli(['keys', 'list', '--url', stack.gw.url]).stderr, /--url needs --token/);
  });

  it('changes through the API land in the store, recorded under the token\'s key', async () => {
    const created = JSON.parse(ok(remote(['keys', 'create', '--name', 'carol', '--scopes', 'models:read', '--json'])));
    assert.match(created.key, /^gatehouse_/);
    await settle();
    assert.equal((await tags(created.key)).status, 200);
    ok(remote(['keys', 'update', 'carol', '--rpm', '7']));
    assert.equal(JSON.parse(ok(local(['keys', 'show', 'carol', '--json']))).limits.rpm, 7);
    const trail = ok(local(['audit', '--admin', '--key', 'carol', '--json'])).trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(trail.length >= 2 && trail.every((e: { actor: string }) => e.actor === `api:root/${root.id}`), JSON.stringify(trail));
    assert.match(remote(['keys', 'add-ssh', '--name', 'x', '--pubkey', 'ssh-ed25519 AAAA']).stderr, /unknown option --url|local store only/);
  });
});

describe('gatehouse keys rotate', () => {
  for (const how of ['local', 'remote'] as const) {
    it(`${how}: the old secret works during --overlap, then is refused as rotated; the new one works`, async () => {
      const name = `rot-${how}`;
      const k = await stack.createKey(name, ['--scopes', 'models:read']);
      const run = how === 'local' ? local : remote;
      const out = JSON.parse(ok(run(['keys', 'rotate', name, '--overlap', '2s', '--json'])));
      assert.equal(out.id, k.id);
      assert.notEqual(out.key, k.key);
      await settle();
      assert.equal((await tags(k.key)).status, 200);
      assert.equal((await tags(out.key)).status, 200);
      // previous_valid_until is shown to the second: wait a second past it.
      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(out.previous_valid_until) - Date.now()) + 1100));
      const old = await tags(k.key);
      assert.equal(old.status, 401);
      assert.match(JSON.parse(old.body).error, /was rotated/);
      assert.equal((await tags(out.key)).status, 200);
    });
  }

  it('--overlap 0 refuses the old secret at once; an SSH key cannot rotate; the table output says what happened', async () => {
    const k = await stack.createKey('rot-zero', ['--scopes', 'models:read']);
    const text = ok(local(['keys', 'rotate', 'rot-zero', '--overlap', '0']));
    assert.match(text, /Rotated API key .*\n\n  gatehouse_\S+\n/);
    assert.match(text, /old secret is refused from now on/);
    await settle();
    assert.equal((await tags(k.key)).status, 401);
    assert.match(local(['keys', 'rotate', 'rot-zero', '--overlap', 'soon']).stderr, /--overlap: "soon" is not a duration/);
    ok(local(['keys', 'add-ssh', '--name', 'sshy', '--pubkey', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@h']));
    assert.match(local(['keys', 'rotate', 'sshy']).stderr, /not an API key: only API keys have a secret to rotate/);
  });
});
