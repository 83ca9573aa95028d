// Property-based checks of the exact route matcher against a model of what Ollama (Go net/http +
// gin) does with the path Gatehouse forwards: whatever the client sends, Gatehouse matches a table
// path exactly or not at all, and the path it forwards is one Ollama routes to the same handler
// without decoding, cleaning or redirecting it first (docs/threat-model.md B3, B7; docs/ollama-api-notes.md §4.5).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cleanPath, unescapePath } from '../../test/emulator/paths.js';
import { isModelRef, parseModelRef } from '../policy/model-name.js';
import { matchRoute } from './match.js';
import { ROUTES } from './table.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'get', 'Post'];
const TABLE_PATHS = [...new Set(ROUTES.map((r) => r.path))];
const SAMPLE_PARAMS: Record<string, string[]> = {
  ':model': ['llama3', 'llama3:latest', 'llama3%3Alatest', 'qwen2.5:7b', 'hf.co', '..', '.', '%2e%2e', 'a%2Fb', '%', '%zz', 'x%00', 'LLAMA3%3ALATEST'],
  ':digest': [`sha256:${'ab'.repeat(32)}`, `sha256-${'AB'.repeat(32)}`, 'sha256:xyz', `sha256:${'a'.repeat(63)}`, `sha512:${'a'.repeat(64)}`],
  ':key': ['AAAAC3NzaC1lZDI1NTE5', 'a=b', 'x_y-z', 'a.b', '%41'],
};

/** Table paths with parameters filled in, some validly, some not. */
const concretePath = fc.constantFrom(...TABLE_PATHS).chain((p) => {
  const param = Object.keys(SAMPLE_PARAMS).find((k) => p.endsWith(k));
  return param ? fc.constantFrom(...SAMPLE_PARAMS[param]!).map((v) => p.replace(param, v)) : fc.constant(p);
});

type Edit = (p: string) => string;
const at = (p: string, i: number): number => (p.length ? i % (p.length + 1) : 0);
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom('/', '//', '.', '..', '/./', '/../', ';', ';x', '%2F', '%2f', '%2e', '%00', '%20', '\\', '?', '#', '@', ':', '~', ' ', '\t', '*')).map(
    ([i, s]): Edit => (p) => p.slice(0, at(p, i)) + s + p.slice(at(p, i)),
  ),
  fc.nat().map((i): Edit => (p) => {
    const k = i % Math.max(1, p.length);
    const c = p[k] ?? '';
    return p.slice(0, k) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + p.slice(k + 1);
  }),
  fc.nat().map((i): Edit => (p) => {
    const k = i % Math.max(1, p.length);
    const c = p.charCodeAt(k);
    return Number.isNaN(c) ? p : p.slice(0, k) + '%' + c.toString(16).padStart(2, '0') + p.slice(k + 1);
  }),
  fc.nat().map((i): Edit => (p) => p.slice(0, at(p, i))),
  fc.constant((p: string) => p + '/'),
  fc.constant((p: string) => '/' + p),
);

/** Mostly near-misses of real routes, plus arbitrary strings. */
const anyPath = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(concretePath, fc.array(edit, { maxLength: 3 })).map(([p, es]) => es.reduce((acc, e) => e(acc), p)) },
  { weight: 1, arbitrary: concretePath },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'/apiv1chatgeneratemodels.%2F;:-_ \\?#0123456789ABCDEF'.split('')), maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
);

/** The table path template Ollama's router (exact, case-sensitive, one segment per `:param`) serves for a clean path. */
function ollamaRoute(method: string, path: string): string | null {
  const segs = path.split('/');
  for (const r of ROUTES) {
    if (r.method !== method) continue;
    const t = r.path.split('/');
    if (t.length !== segs.length) continue;
    if (t.every((x, i) => (x.startsWith(':') ? segs[i]!.length > 0 : x === segs[i]))) return r.path;
  }
  return null;
}

describe('matchRoute (properties)', () => {
  it('never throws, and a match has the method asked for', () => {
    fc.assert(
      fc.property(fc.constantFrom(...METHODS), anyPath, (method, path) => {
        const m = matchRoute(method, path);
        if (m.ok) assert.equal(m.route.method, method);
        else assert.ok([400, 404, 405].includes(m.status));
      }),
      { numRuns: 5000 },
    );
  });

  it('a route without a parameter matches only its exact path (no decoding, folding, cleaning or suffixes)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...METHODS), anyPath, (method, path) => {
        const m = matchRoute(method, path);
        if (m.ok && !m.route.param) {
          assert.equal(path, m.route.path);
          assert.equal(m.upstreamPath, m.route.path);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('public routes are exactly /, /healthz, /readyz and /auth/verify', () => {
    fc.assert(
      fc.property(fc.constantFrom('GET', 'HEAD'), anyPath, (method, path) => {
        const m = matchRoute(method, path);
        if (m.ok && m.route.scope === null) assert.ok(['/', '/healthz', '/readyz', '/auth/verify'].includes(path), JSON.stringify(path));
      }),
      { numRuns: 5000 },
    );
  });

  it('what is forwarded is clean to Go (no escapes left, nothing to redirect) and reaches the same route in Ollama', () => {
    fc.assert(
      fc.property(fc.constantFrom(...METHODS), anyPath, (method, path) => {
        const m = matchRoute(method, path);
        if (!m.ok) return;
        // The gateway forwards a :model parameter only once it parses as a model name (`/v1/models/.`
        // matches here and is then answered 404 as a missing model).
        if (m.route.param?.kind === 'model' && !isModelRef(parseModelRef(m.param!))) return;
        const up = m.upstreamPath;
        assert.equal(unescapePath(up), up, `Ollama would decode ${JSON.stringify(up)} further`);
        assert.equal(cleanPath(up), up, `Ollama would redirect ${JSON.stringify(up)}`);
        assert.ok(!/[?#\s\\]/.test(up), JSON.stringify(up));
        assert.equal(ollamaRoute(method, up), m.route.path, `${method} ${JSON.stringify(path)} → ${JSON.stringify(up)}`);
        if (m.route.param) {
          const prefix = m.route.path.slice(0, m.route.path.lastIndexOf('/') + 1);
          assert.ok(path.startsWith(prefix));
          assert.ok(!path.slice(prefix.length).includes('/'), 'the parameter is one segment of what the client sent');
          assert.equal(up, prefix + m.param);
          assert.ok(!m.param!.includes('..'));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('the /v1/models/:model parameter is forwarded as the decoded name, and only plain names pass', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcAZ09._:-%/3aAfF '.split('')), minLength: 1, maxLength: 20 }), (seg) => {
        const m = matchRoute('GET', `/v1/models/${seg}`);
        if (!m.ok) return;
        let decoded: string;
        try {
          decoded = decodeURIComponent(seg);
        } catch {
          assert.fail(`matched an undecodable segment ${JSON.stringify(seg)}`);
        }
        assert.equal(m.param, decoded);
        assert.match(decoded, /^[A-Za-z0-9._:-]+$/);
      }),
      { numRuns: 3000 },
    );
  });
});
