import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROUTES, type RouteDef } from '../../src/routes/table.js';
import { generateKeyPair, loadOllamaSigner, type OllamaSigner } from '../helpers/ollama-signer.js';
import { DIGEST, sampleRequest } from '../helpers/route-samples.js';
import { settle, startStack, type Stack } from '../helpers/stack.js';
import { BASE_CONFIG, hit, pool, rawHit, upstreamOf, type Reply } from './support.js';

/**
 * docs/threat-model.md A2, B1, B2, B3, B7, generated from the route table: every path in the table × every
 * method × every spelling of the path × every credential state. The gateway runs with management,
 * cloud and /metrics switched on, and the best credential holds every scope, so only exact
 * (method, path) matching and authentication stand between these requests and Ollama.
 *
 * For each combination the answer is computed from the table alone:
 * - a spelling other than the exact path is refused (400/404/405) and never forwarded, whatever
 *   the credential (even a valid Ed25519 signature over that very spelling);
 * - the exact path with a method the table does not list is 405, never forwarded;
 * - the exact (method, path) is public (200, credential ignored and not forwarded), or refused
 *   401/403 for every credential state short of a valid one, or forwarded (with no credential
 *   header) for a valid one;
 * - whatever is forwarded goes to the canonical route path, never to the client's spelling.
 */

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** A concrete path for each table path (parameters filled with valid sample values). */
function concrete(path: string): string {
  return path.replace(':model', 'llama3:latest').replace(':digest', DIGEST).replace(':key', 'AAAAC3NzaC1lZDI1NTE5');
}

/** Spellings of `p` that an exact matcher must not take for `p` (docs/threat-model.md B3, B7). */
export function spellings(p: string): Array<[name: string, path: string]> {
  const cut = p.lastIndexOf('/');
  const head = p.slice(0, cut);
  const last = p.slice(cut + 1);
  const out: Array<[string, string]> = [
    ['trailing slash', p + '/'],
    ['leading double slash', '/' + p],
    ['double slash before last segment', head + '//' + last],
    ['upper case', p.toUpperCase()],
    ['dot segment', '/.' + p],
    ['dot-dot segment', head + '/x/../' + last],
    ['trailing dot', p + '/.'],
    ['matrix parameter', p + ';x'],
    ['encoded NUL', p + '%00'],
    ['encoded slash', head + '%2F' + last],
    ['encoded space', p + '%20'],
    ['backslash', head + '\\' + last],
    ['suffix', p + 'evil'],
    ['extension', p + '.json'],
    ['absolute-form', 'http://127.0.0.1' + p],
  ];
  if (p.length > 1) out.push(['encoded first character', '/%' + p.charCodeAt(1).toString(16) + p.slice(2)]);
  if (last.length > 0) {
    out.push(['capitalised last segment', head + '/' + last[0]!.toUpperCase() + last.slice(1)]);
    out.push(['encoded last-segment letter', head + '/%' + last.charCodeAt(0).toString(16).toUpperCase() + last.slice(1)]);
  }
  return out.filter(([, s]) => s !== p && !isParamRequest(s));
}

/** Prefixes of the parameter routes (`/v1/models/`, `/api/blobs/`, `/api/user/keys/`). */
const PARAM_PREFIXES = ROUTES.filter((r) => r.param).map((r) => r.path.slice(0, r.path.lastIndexOf('/') + 1));

/**
 * A prefix of a parameter route followed by one more segment is a request to that route with
 * another parameter value (covered by that route's own row and the matcher's property tests), not
 * a spelling of this path.
 */
function isParamRequest(target: string): boolean {
  return PARAM_PREFIXES.some((pre) => target.startsWith(pre) && target.length > pre.length && !target.slice(pre.length).includes('/'));
}

/** Every table path, once; its routes by method. */
const PATHS = [...new Set(ROUTES.map((r) => r.path))];
const routeFor = (method: string, path: string): RouteDef | undefined => ROUTES.find((r) => r.method === method && r.path === path);

/** Canonical upstream paths: what Ollama may ever see. */
const CANONICAL = new Set(PATHS.map(concrete));

type Cred = { name: string; headers: (method: string, target: string) => Record<string, string>; query?: (method: string, target: string) => string };

describe('threats A2/B1/B2/B3/B7: route table × method × path spelling × credential state', () => {
  let s: Stack;
  let agent: Agent;
  const keys: Record<string, string> = {};
  let sshGood: OllamaSigner;
  let sshStranger: OllamaSigner;
  const keyDir = mkdtempSync(join(tmpdir(), 'gatehouse-sec-ssh-'));

  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true, cloud: true }, metrics: { listen: 'main' } } });
    const mk = (name: string, args: string[]) => s.createKey(name, args, { wait: false });
    const all = 'inference,models:read,models:manage,cloud,metrics';
    keys.good = (await mk('good', ['--scopes', all])).key;
    const revoked = await mk('revoked', ['--scopes', all]);
    assert.equal(s.cli(['keys', 'revoke', revoked.id]).code, 0);
    keys.revoked = revoked.key;
    keys.expired = (await mk('expired', ['--scopes', all, '--expires', '1s'])).key;
    keys.inference = (await mk('inference-only', ['--scopes', 'inference'])).key;
    keys.read = (await mk('read-only', ['--scopes', 'models:read'])).key;
    const good = generateKeyPair(keyDir, 'ed25519', 'id_good');
    const stranger = generateKeyPair(keyDir, 'ed25519', 'id_stranger');
    sshGood = loadOllamaSigner(readFileSync(good.privateKeyPath));
    sshStranger = loadOllamaSigner(readFileSync(stranger.privateKeyPath));
    assert.equal(s.cli(['keys', 'add-ssh', '--name', 'laptop', '--pubkey-file', good.publicKeyPath, '--scopes', all]).code, 0);
    agent = new Agent({ keepAlive: true, maxSockets: 8 });
    await settle(1200);
  });
  after(async () => {
    agent.destroy();
    await s.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  const now = (): string => `?ts=${Math.floor(Date.now() / 1000)}`;
  const CREDS: Cred[] = [
    { name: 'no credential', headers: () => ({}) },
    { name: 'Basic without a key', headers: () => ({ authorization: 'Basic Og==' }) },
    { name: 'unknown scheme', headers: () => ({ authorization: 'Token abc' }) },
    { name: 'unknown key', headers: () => ({ authorization: 'Bearer gatehouse_0000000000000000000000000000000000000000000000000' }) },
    { name: 'revoked key', headers: () => ({ authorization: `Bearer ${keys.revoked}` }) },
    { name: 'expired key', headers: () => ({ 'x-api-key': keys.expired! }) },
    { name: 'wrong scope', headers: () => ({ authorization: `Bearer ${keys.read}` }) },
    { name: 'unregistered Ed25519 key', headers: (m, t) => ({ authorization: sshStranger.signRequest({ method: m, path: t }).authorization }), query: now },
    // A valid signature over exactly the spelling sent: only the path match can refuse it.
    { name: 'valid Ed25519 signature', headers: (m, t) => ({ authorization: sshGood.signRequest({ method: m, path: t }).authorization }), query: now },
    { name: 'valid Bearer key', headers: () => ({ authorization: `Bearer ${keys.good}` }) },
    { name: 'valid x-api-key', headers: () => ({ 'x-api-key': keys.good! }) },
    { name: 'valid Basic key', headers: () => ({ authorization: `Basic ${Buffer.from(`user:${keys.good}`).toString('base64')}` }) },
  ];

  /**
   * What the gateway must answer, from the table alone. `status: null` = whatever Ollama answers
   * (the request must then have been forwarded, and not refused by Gatehouse).
   */
  function expected(method: string, tablePath: string, exact: boolean, cred: Cred): { statuses: number[] | null; forwarded: boolean } {
    if (!exact) return { statuses: [400, 404, 405], forwarded: false };
    const route = routeFor(method, tablePath);
    if (!route) return { statuses: [405], forwarded: false };
    // Forward-auth describes another request in X-Forwarded-* headers; without them: 400, never forwarded.
    if (route.local === 'verify') return { statuses: [400], forwarded: false };
    if (route.scope === null) return { statuses: [200], forwarded: !route.local };
    if (cred.name.startsWith('valid')) return route.local ? { statuses: [200], forwarded: false } : { statuses: null, forwarded: true };
    if (cred.name === 'wrong scope') return route.scope === 'models:read' ? { statuses: null, forwarded: true } : { statuses: [403], forwarded: false };
    if (cred.name === 'unregistered Ed25519 key') return { statuses: [403], forwarded: false };
    return { statuses: [401], forwarded: false };
  }

  for (const tablePath of PATHS) {
    const p = concrete(tablePath);
    const variants: Array<[string, string, boolean]> = [['exact', p, true], ...spellings(p).map(([n, v]): [string, string, boolean] => [n, v, false])];
    it(`${tablePath}: ${METHODS.length} methods × ${variants.length} spellings × ${CREDS.length} credential states`, async () => {
      s.emu.reset();
      const tasks: Array<() => Promise<string | null>> = [];
      for (const method of METHODS) {
        const route = routeFor(method, tablePath) ?? ROUTES.find((r) => r.path === tablePath)!;
        const sample = sampleRequest(route);
        for (const [spelling, target, exact] of variants) {
          for (const cred of CREDS) {
            tasks.push(async () => {
              const query = cred.query?.(method, target) ?? '';
              const headers = { ...sample.headers, ...cred.headers(method, target) };
              const body = method === 'GET' || method === 'HEAD' ? undefined : sample.body;
              // Targets Node's parser refuses go on their own connection: its 400 closes the socket
              // without saying so ("Connection: close"), which would race the keep-alive agent.
              const own = !target.startsWith('/') || target.includes('\\');
              let res: Reply;
              try {
                res = own ? await rawHit(s.gw.url, method, target + query, headers, body) : await hit(s.gw.url, method, target + query, { headers, body, agent });
              } catch (err) {
                return `${method} ${JSON.stringify(target)} [${cred.name}]: ${(err as Error).message}`;
              }
              const want = expected(method, tablePath, exact, cred);
              const got = upstreamOf(s.emu, res.id);
              const where = `${method} ${JSON.stringify(target)} (${spelling}) [${cred.name}]`;
              if (want.statuses ? !want.statuses.includes(res.status) : res.headers['x-gatehouse-error'] !== undefined) {
                return `${where}: status ${res.status}, want ${want.statuses?.join('/') ?? "Ollama's answer"}: ${res.body.slice(0, 160)}`;
              }
              if (want.forwarded !== got.length > 0) return `${where}: ${got.length ? 'reached Ollama' : 'did not reach Ollama'}`;
              for (const r of got) {
                if (!CANONICAL.has(r.path)) return `${where}: Ollama saw the non-canonical path ${JSON.stringify(r.url)}`;
                if (r.query !== '') return `${where}: the query reached Ollama: ${r.url}`;
                // B1: a credential is never forwarded, whichever route carried it.
                for (const h of ['authorization', 'x-api-key', 'cookie', 'proxy-authorization']) {
                  if (r.headers[h] !== undefined) return `${where}: ${h} reached Ollama`;
                }
              }
              return null;
            });
          }
        }
      }
      const failures = (await pool(8, tasks)).filter((x): x is string => x !== null);
      assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${tasks.length} combinations misbehaved`);
    });
  }
});

describe('threats A2: every protected route refuses a request without a key (generated from the table)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true, cloud: true }, metrics: { listen: 'main' } } });
  });
  after(() => s.close());
  for (const route of ROUTES.filter((r) => r.scope !== null)) {
    it(`A2: ${route.method} ${route.path} → 401 without a key, nothing forwarded`, async () => {
      s.emu.reset();
      const req = sampleRequest(route);
      const res = await hit(s.gw.url, req.method, req.path, { headers: req.headers, body: req.body });
      assert.equal(res.status, 401, res.body);
      assert.match(String(res.headers['www-authenticate']), /^Bearer /);
      assert.equal(s.emu.requests.length, 0);
    });
  }
});

describe('threats B2: alternate and catch-all inference routes are not passthroughs', () => {
  let s: Stack;
  let key: string;
  before(async () => {
    s = await startStack({ config: { ...BASE_CONFIG, routes: { manage: true, cloud: true } } });
    key = (await s.createKey('all', ['--scopes', 'inference,models:read,models:manage,cloud'])).key;
  });
  after(() => s.close());
  const ALTERNATES = [
    '/invocations', '/v1/invocations', '/ping', '/api/v1/chat', '/v1/engines/llama3/completions', '/v1/chat', '/openai/v1/chat/completions',
    '/ollama/api/chat', '/api/generate/stream', '/api/chat/completions', '/v1/messages/count_tokens', '/v1/messages/batches', '/api/tokenize',
    '/api/signin', '/api/embed/batch', '/v1/audio/speech', '/v1/images/generations', '/v1/files', '/debug/pprof/', '/metrics/', '/api/proxy/http://169.254.169.254/',
    '/v1/proxy/chat', '/*', '/%2A', '/api/*', '/api/.', '/api/', '/api', '/v1', '/v1/',
  ];
  for (const path of ALTERNATES) {
    it(`B2: POST ${path} → 404 with a valid all-scopes key, never forwarded`, async () => {
      s.emu.reset();
      const res = await hit(s.gw.url, 'POST', path, { headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3', prompt: 'hi' }) });
      assert.equal(res.status, 404, res.body);
      assert.equal(s.emu.requests.length, 0);
    });
  }
  it('B2: methods no route uses (TRACE, CONNECT-like, WebDAV, custom) are refused and never forwarded', async () => {
    for (const method of ['TRACE', 'PROPFIND', 'MKCOL', 'SEARCH', 'PURGE', 'LOCK', 'QUERY', 'REPORT']) {
      s.emu.reset();
      const res = await hit(s.gw.url, method, '/api/chat', { headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'llama3' }) }).catch((e: Error) => ({ status: -1, body: e.message }));
      assert.ok([400, 404, 405].includes(res.status) || res.status === -1, `${method}: ${res.status} ${res.body}`);
      assert.equal(s.emu.requests.length, 0, `${method} reached Ollama`);
    }
  });
});
