import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openApiDocument } from './openapi.js';
import { ADMIN_ROUTES, matchAdminRoute } from './routes.js';

describe('admin routes: exact matching', () => {
  it('every row matches its own path, with {id} as one plain segment, and only its method', () => {
    for (const r of ADMIN_ROUTES) {
      const m = matchAdminRoute(r.method, r.path.replace('{id}', 'key_abc123'));
      assert.ok(m.ok && m.route.id === r.id, r.id);
      if (r.path.includes('{id}')) assert.deepEqual(m.ok && m.params, { id: 'key_abc123' });
    }
  });

  it('ids are unique and every one starts with admin.', () => {
    assert.equal(new Set(ADMIN_ROUTES.map((r) => r.id)).size, ADMIN_ROUTES.length);
    for (const r of ADMIN_ROUTES) assert.match(r.id, /^admin\./);
  });

  it('no decoding, no trailing slash, no empty or dot segment, no case folding', () => {
    for (const p of ['/admin/v1/keys/', '/admin/v1//keys', '/admin/v1/Keys', '/admin/v1/keys/%6Bey', '/admin/v1/keys/..', '/admin/v1/keys/./rotate', '/admin/v1/keys/a/b', '/admin/v1', '/admin/v2/keys', '/admin/v1/keys;x']) {
      const m = matchAdminRoute('GET', p);
      assert.ok(!m.ok && m.status === 404, p);
    }
  });

  it('a path with other methods is 405 with Allow; a literal segment wins over {id}', () => {
    const m = matchAdminRoute('PUT', '/admin/v1/keys/alice');
    assert.ok(!m.ok && m.status === 405 && m.allow === 'GET, PATCH');
    const a = matchAdminRoute('GET', '/admin/v1/audit/admin');
    assert.ok(a.ok && a.route.id === 'admin.audit.admin');
  });
});

describe('admin OpenAPI document', () => {
  it('has one operation per row, strict request bodies, and the one error shape on every error status', () => {
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, { operationId: string; requestBody?: { content: Record<string, { schema: { additionalProperties?: unknown } }> }; responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> };
    assert.equal(doc.openapi, '3.1.0');
    for (const r of ADMIN_ROUTES) {
      const op = doc.paths[r.path]![r.method.toLowerCase()]!;
      assert.equal(op.operationId, r.id);
      if (r.body) assert.equal(op.requestBody!.content['application/json']!.schema.additionalProperties, false, `${r.id}: unknown fields must be refused`);
      for (const [status, resp] of Object.entries(op.responses)) {
        if (Number(status) >= 400) assert.deepEqual(resp.content['application/json']!.schema, { $ref: '#/components/schemas/Error' });
      }
    }
  });
});
