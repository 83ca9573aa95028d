import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeForwarded, MAX_FORWARDED_URI } from './forwarded.js';
import { matchRoute } from './match.js';

describe('forward-auth: reading X-Forwarded-Method and X-Forwarded-Uri', () => {
  it('splits path and query, and leaves both as sent', () => {
    assert.deepEqual(describeForwarded('POST', '/api/chat'), { ok: true, method: 'POST', path: '/api/chat', query: '' });
    assert.deepEqual(describeForwarded('GET', '/api/tags?ts=1700000000'), { ok: true, method: 'GET', path: '/api/tags', query: 'ts=1700000000' });
    assert.deepEqual(describeForwarded('GET', '/v1/models/llama3%3Alatest'), { ok: true, method: 'GET', path: '/v1/models/llama3%3Alatest', query: '' });
    // A query may hold "/" and "?" (RFC 3986 §3.4) and dots; only the path is held to the rules.
    assert.deepEqual(describeForwarded('GET', '/api/tags?a=/../b?c'), { ok: true, method: 'GET', path: '/api/tags', query: 'a=/../b?c' });
  });

  it('takes only the methods the route table knows, in upper case', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'DELETE']) assert.ok(describeForwarded(m, '/').ok, m);
    for (const m of [undefined, '', 'get', 'PUT', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'POST ', 'GET, POST']) {
      const d = describeForwarded(m, '/api/tags');
      assert.ok(!d.ok && /X-Forwarded-Method/.test(d.reason), String(m));
    }
  });

  const refused: Array<[string, string | undefined, RegExp]> = [
    ['absent', undefined, /missing/],
    ['empty', '', /missing/],
    ['absolute form', 'http://127.0.0.1:11434/api/tags', /origin form/],
    ['absolute form, https', 'https://evil.example/api/chat', /origin form/],
    ['asterisk form', '*', /origin form/],
    ['relative', 'api/tags', /origin form/],
    ['scheme-relative', '//evil.example/api/tags', /authority/],
    ['fragment', '/api/tags#x', /fragment/],
    ['dot-dot', '/api/../api/tags', /dot segment/],
    ['dot', '/api/./tags', /dot segment/],
    ['trailing dot-dot', '/api/tags/..', /dot segment/],
    ['encoded dot-dot', '/api/%2e%2e/api/tags', /dot segment/],
    ['mixed encoded dot-dot', '/api/.%2E/tags', /dot segment/],
    ['encoded dot', '/api/%2E/tags', /dot segment/],
    ['encoded slash', '/api%2ftags', /encoded/],
    ['encoded backslash', '/api%5Ctags', /encoded/],
    ['encoded NUL', '/api/tags%00', /encoded/],
    ['empty segment', '/api//tags', /empty path segment/],
    ['backslash', '/api\\tags', /character/],
    ['space', '/api/ tags', /character/],
    ['tab', '/api/\ttags', /character/],
    ['non-ASCII', '/api/tägs', /character/],
    ['quote', '/api/"tags', /character/],
    ['bad escape', '/api/ta%zzgs', /hex digits/],
    ['short escape', '/api/tags%2', /hex digits/],
    ['overlong', '/api/tags?' + 'a'.repeat(MAX_FORWARDED_URI), /longer than/],
  ];
  for (const [name, uri, why] of refused) {
    it(`refuses ${name} with a reason`, () => {
      const d = describeForwarded('GET', uri);
      assert.equal(d.ok, false);
      if (!d.ok) assert.match(d.reason, why);
    });
  }

  it('what it accepts goes to the route matcher as a real path would: spellings the matcher refuses still miss', () => {
    for (const uri of ['/api/chat/', '/API/chat', '/api/%63hat', '/api/chat;x']) {
      const d = describeForwarded('POST', uri);
      assert.ok(d.ok, uri);
      if (d.ok) assert.equal(matchRoute(d.method, d.path).ok, false, uri);
    }
  });
});
