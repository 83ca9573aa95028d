import assert from 'node:assert/strict';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { matchAdminRoute } from '../../src/admin/routes.js';

/**
 * Checks admin API answers against the OpenAPI document the gateway serves: each response's
 * status must be documented for its operation, and its body must validate against the schema
 * compiled from the document (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses).
 */

type Json = Record<string, unknown>;

export class OpenApiCheck {
  readonly #doc: Json;
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });
  readonly #compiled = new Map<string, ValidateFunction>();
  /** route id → statuses seen, to show which answers were checked. */
  readonly seen = new Map<string, Set<number>>();

  constructor(doc: Json) {
    this.#doc = doc;
    (addFormats as unknown as (a: Ajv2020) => void)(this.#ajv);
  }

  /** Asserts that this answer to `method path` is one the document describes. */
  check(method: string, path: string, status: number, body: string): void {
    const m = matchAdminRoute(method, path.split('?')[0]!);
    assert.ok(m.ok, `${method} ${path} is not an admin route`);
    const op = ((this.#doc.paths as Json)[m.route.path] as Json)[method.toLowerCase()] as Json | undefined;
    assert.ok(op, `no operation for ${method} ${m.route.path} in the document`);
    const resp = (op.responses as Json)[String(status)] as Json | undefined;
    assert.ok(resp, `${m.route.id}: status ${status} is not documented (body ${body.slice(0, 200)})`);
    const key = `${m.route.id} ${status}`;
    let validate = this.#compiled.get(key);
    if (!validate) {
      const schema = this.#resolve(((resp.content as Json)['application/json'] as Json).schema);
      validate = this.#ajv.compile(schema as Json);
      this.#compiled.set(key, validate);
    }
    const ok = validate(JSON.parse(body));
    assert.ok(ok, `${m.route.id} ${status}: body does not match the document: ${JSON.stringify(validate.errors?.slice(0, 3))}\n${body.slice(0, 400)}`);
    let s = this.seen.get(m.route.id);
    if (!s) this.seen.set(m.route.id, (s = new Set()));
    s.add(status);
  }

  /** Inlines `#/components/...` references (the document's own, the only kind it has). */
  #resolve(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.#resolve(x));
    if (v && typeof v === 'object') {
      const o = v as Json;
      if (typeof o.$ref === 'string' && o.$ref.startsWith('#/components/')) {
        let target: unknown = this.#doc;
        for (const part of o.$ref.slice(2).split('/')) target = (target as Json)[part];
        return this.#resolve(target);
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, this.#resolve(x)]));
    }
    return v;
  }
}
