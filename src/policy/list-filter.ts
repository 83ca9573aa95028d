import type { ListFilter } from '../routes/table.js';
import type { ModelAllowlist } from './model-allowlist.js';
import { isModelRef, parseModelRef } from './model-name.js';

/**
 * Model lists (/api/tags, /api/ps, /v1/models) cut down to what the principal may use, so a key
 * limited to two models cannot enumerate the rest (docs/threat-model.md B6). Cloud models are listed only
 * to principals that may use them. Unparseable lists fail closed: an empty list.
 */
export function filterModelList(kind: ListFilter, body: Buffer, allowlist: ModelAllowlist, cloudAllowed: boolean): Buffer {
  // Fast path: nothing to remove when every model is allowed and no name can be a cloud model.
  if (allowlist.allowsAll && (cloudAllowed || !body.includes('cloud'))) return body;
  const allowed = (name: unknown): boolean => {
    if (typeof name !== 'string') return false;
    const ref = parseModelRef(name);
    return isModelRef(ref) && (cloudAllowed || !ref.cloud) && allowlist.allows(ref.canonical);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    doc = null;
  }
  if (kind === 'openai-models') {
    const data = isObj(doc) && Array.isArray(doc.data) ? doc.data : [];
    const out = { ...(isObj(doc) ? doc : { object: 'list' }), data: data.filter((m) => isObj(m) && allowed(m.id)) };
    return Buffer.from(JSON.stringify(out));
  }
  const models = isObj(doc) && Array.isArray(doc.models) ? doc.models : [];
  const out = { ...(isObj(doc) ? doc : {}), models: models.filter((m) => isObj(m) && allowed(m.name ?? m.model)) };
  return Buffer.from(JSON.stringify(out));
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
