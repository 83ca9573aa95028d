import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchRoute } from './match.js';
import { ROUTES } from './table.js';

describe('exact route matching', () => {
  it('matches every route in the table by its exact method and path', () => {
    for (const r of ROUTES) {
      const path = r.param ? r.path.replace(`:${r.param.name}`, r.param.kind === 'digest' ? `sha256:${'a'.repeat(64)}` : 'x') : r.path;
      const m = matchRoute(r.method, path);
      assert.ok(m.ok, `${r.method} ${path}`);
      if (m.ok) assert.equal(m.route.id, r.id);
    }
  });
  it('answers 405 with an Allow header for known paths, 404 for everything else', () => {
    const m = matchRoute('PUT', '/api/chat');
    assert.equal(m.ok, false);
    if (!m.ok) {
      assert.equal(m.status, 405);
      assert.equal(m.allow, 'POST');
    }
    for (const p of ['/api/chat/', '/api//chat', '/API/chat', '/api/%63hat', '/api/./chat', '/api/chat;x', '/v1/models/a/b', '/v1/models/', '/api/blobs/']) {
      const x = matchRoute('POST', p);
      assert.equal(x.ok, false, p);
      if (!x.ok) assert.equal(x.status, 404, p);
    }
  });
  it('digests must follow Ollama\'s rule', () => {
    const bad = matchRoute('HEAD', '/api/blobs/sha256:abc');
    assert.ok(!bad.ok && bad.status === 400);
    assert.ok(matchRoute('HEAD', `/api/blobs/sha256-${'F'.repeat(64)}`).ok);
  });
  it('decodes only the /v1/models/:model segment, and only to a plain name', () => {
    const m = matchRoute('GET', '/v1/models/llama3%3Alatest');
    assert.ok(m.ok && m.upstreamPath === '/v1/models/llama3:latest');
    assert.equal(matchRoute('GET', '/v1/models/a%2Fb').ok, false);
    assert.equal(matchRoute('GET', '/v1/models/%2E%2E').ok, false);
    assert.equal(matchRoute('GET', '/v1/models/%zz').ok, false);
  });
});
