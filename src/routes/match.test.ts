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

describe('filtered model lists have no unfiltered HEAD', () => {
  it('every HEAD route on a path whose GET is a filtered list is filtered the same way, from a GET to Ollama', () => {
    // Ollama's HEAD carries the Content-Length of the whole list: forwarded as is, it would tell a
    // key with a short allowlist how large the list of models it may not see is.
    const lists = ROUTES.filter((r) => r.method === 'GET' && r.list);
    assert.ok(lists.length >= 3, 'tags, ps and /v1/models are filtered lists');
    for (const get of lists) {
      const head = ROUTES.find((r) => r.method === 'HEAD' && r.path === get.path);
      if (!head) continue;
      assert.equal(head.list, get.list, `HEAD ${head.path}`);
      assert.equal(head.upstreamMethod, 'GET', `HEAD ${head.path}`);
    }
    assert.ok(ROUTES.some((r) => r.id === 'tags.head' && r.list === 'tags'), 'HEAD /api/tags is in the table and filtered');
  });
});
