import { refuse, type GatewayError } from '../core/errors.js';
import type { RouteDef } from '../routes/table.js';
import type { JsonObject } from './json-body.js';
import type { NamedModel } from './inspect-request.js';
import type { ModelRef } from './model-name.js';

/**
 * Model management made safe to switch on (docs/threat-model.md C3, D1–D3). Ollama's worst holes came
 * through these routes: pulls from any registry (Probllama path traversal, SSRF, token theft,
 * gzip bombs), create from local paths (file-existence oracle), remote_host proxying, pushes that
 * leak memory to an attacker's registry. Each rule below refuses with the reason and the setting
 * that would allow it.
 */

export interface ManageRules {
  /** Registries a pull (or create `from`) may fetch from, and a push may publish to. */
  registries: readonly string[];
  /** Hosts a created model may name as `remote_host`. */
  remoteHosts: readonly string[];
}

const DIGEST = /^sha256[:-][0-9a-fA-F]{64}$/;
/** Fields of /api/create that read server-side files (legacy API) — never passed through. */
const FILE_FIELDS = ['path', 'modelfile', 'quantization_source'];
/** Fields of /api/create that map file names to blob digests. */
const BLOB_MAPS = ['files', 'adapters', 'draft_files'] as const;

/** One spelling per blob: `sha256:` and lower-case hex (Ollama accepts `sha256-` and either case in paths). */
export function canonicalDigest(digest: string): string {
  return 'sha256:' + digest.slice('sha256:'.length).toLowerCase();
}

/**
 * The blobs a create references (`files`, `adapters`, `draft_files`), canonical, each once; empty
 * for any other body. Read from a body checkManageRequest has accepted.
 */
export function createBlobDigests(body: JsonObject): string[] {
  let out: Set<string> | null = null;
  for (const f of BLOB_MAPS) {
    const map = body[f];
    if (!map || typeof map !== 'object' || Array.isArray(map)) continue;
    for (const d of Object.values(map)) if (typeof d === 'string' && DIGEST.test(d)) (out ??= new Set()).add(canonicalDigest(d));
  }
  return out ? [...out] : [];
}

export function checkManageRequest(route: RouteDef, body: JsonObject, models: readonly NamedModel[], rules: ManageRules): GatewayError | null {
  if (route.gate !== 'manage') return null;
  if (body.insecure !== undefined && body.insecure !== false) {
    return refuse('GW_ERR_MANAGE_REFUSED', '"insecure": true is refused: Gatehouse only talks to registries over verified TLS');
  }
  const registryOf = (field: string): ModelRef | undefined => models.find((m) => m.field === field);
  const needRegistry = (m: ModelRef | undefined, what: string): GatewayError | null => {
    if (!m || rules.registries.includes(m.host)) return null;
    return refuse('GW_ERR_MANAGE_REFUSED', `${what} registry "${m.host}" is not allowed; allowed: ${rules.registries.join(', ')} (manage.registries)`);
  };
  switch (route.id) {
    case 'pull':
      return needRegistry(registryOf('model') ?? registryOf('name'), 'pulling from');
    case 'push':
      return needRegistry(registryOf('model') ?? registryOf('name'), 'pushing to');
    case 'create': {
      for (const f of FILE_FIELDS) {
        if (body[f] !== undefined) return refuse('GW_ERR_MANAGE_REFUSED', `"${f}" is refused: a create request may not name files on the server; upload blobs and reference them in "files"`);
      }
      const from = registryOf('from');
      if (from) {
        const r = needRegistry(from, 'creating from a model in');
        if (r) return r;
      }
      for (const f of BLOB_MAPS) {
        const map = body[f];
        if (map === undefined || map === null) continue;
        if (typeof map !== 'object' || Array.isArray(map)) return refuse('GW_ERR_BODY_INVALID', `"${f}" must map file names to blob digests`);
        for (const [name, digest] of Object.entries(map)) {
          if (typeof digest !== 'string' || !DIGEST.test(digest)) return refuse('GW_ERR_MANAGE_REFUSED', `${f}["${name.slice(0, 80)}"] must be a blob digest (sha256:<64 hex>)`);
          // eslint-disable-next-line no-control-regex
          if (name === '' || name.length > 255 || /[/\\\x00-\x1f]/.test(name) || name === '.' || name === '..') {
            return refuse('GW_ERR_MANAGE_REFUSED', `${f}: file name ${JSON.stringify(name.slice(0, 80))} must be a plain name without directories`);
          }
        }
      }
      const remote = body.remote_host;
      if (remote !== undefined && remote !== null) {
        let host: string | null = null;
        try {
          host = typeof remote === 'string' ? new URL(remote).hostname.toLowerCase() : null;
        } catch {
          host = null;
        }
        if (!host || !rules.remoteHosts.includes(host)) {
          return refuse('GW_ERR_MANAGE_REFUSED', `remote_host ${JSON.stringify(String(remote).slice(0, 100))} is not allowed${rules.remoteHosts.length ? `; allowed: ${rules.remoteHosts.join(', ')}` : ''} (manage.remote_hosts)`);
        }
      }
      return null;
    }
    default:
      return null;
  }
}
