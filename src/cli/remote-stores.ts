import type { Stores } from '../store/index.js';
import type { AdminEvent, AuditRecord, KeyRecord, KeyStore, NewKey, NewPolicy, PolicyRecord, PolicyStore, UsageRow } from '../store/types.js';
import { AdminApiError, type AdminClient } from './admin-client.js';
import { UsageError } from './args.js';

/**
 * The stores the CLI commands read and change, as a running gateway's admin API serves them: the
 * commands run unchanged over it, so `--url` prints exactly what the local store would. What the
 * API does differently is said where it happens: the gateway generates a new key's secret (so
 * API keys are created through `createApiKey`, not `create`), and records the change under the
 * token's key, not the CLI's OS user.
 */

/** An API key as the admin API shows it (admin/views.ts). */
type ApiKey = Omit<KeyRecord, 'hash' | 'rotation'> & { rotation: { rotatedAt: number; previousValidUntil: number } | null; status: string };

function keyRecord(k: ApiKey): KeyRecord {
  const { status: _status, rotation, ...rest } = k;
  // The previous hash never leaves the gateway: an empty string marks "rotated" here.
  return { ...rest, hash: null, rotation: rotation ? { previousHash: '', previousUntil: rotation.previousValidUntil, rotatedAt: rotation.rotatedAt } : null };
}

const seg = (s: string): string => encodeURIComponent(s);

/** null for 404: "no such key/policy", as the stores answer. */
async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof AdminApiError && err.status === 404) return null;
    throw err;
  }
}

const localOnly = (what: string) => (): never => {
  throw new UsageError(`${what} works on the local store only (run it without --url on the gateway's host)`);
};

export interface RemoteStores extends Stores {
  /** Creates an API key; the gateway generates the secret and returns it once. */
  createApiKey(k: Omit<NewKey, 'kind' | 'hash' | 'hint' | 'fingerprint' | 'publicKey' | 'id'>): Promise<{ rec: KeyRecord; key: string }>;
  /** Rotates a key's secret; `overlap` as the API takes it ("24h", "0"). */
  rotateApiKey(id: string, overlap: string): Promise<{ rec: KeyRecord; key: string }>;
}

export function remoteStores(c: AdminClient): RemoteStores {
  const keys: KeyStore = {
    create: localOnly('registering an SSH key or a certificate (keys add-ssh, add-cert)'),
    find: (idOrName) => orNull(c.get<ApiKey>(`/keys/${seg(idOrName)}`).then(keyRecord)),
    list: async () => (await c.get<{ keys: ApiKey[] }>('/keys')).keys.map(keyRecord),
    update: async (id, patch) => {
      const { policyId, ...rest } = patch;
      return keyRecord(await c.patch<ApiKey>(`/keys/${seg(id)}`, { ...rest, ...(policyId !== undefined ? { policy: policyId } : {}) }));
    },
    revoke: async (id) => keyRecord(await c.post<ApiKey>(`/keys/${seg(id)}/revoke`)),
    rotate: localOnly('rotating with a chosen hash'),
    changesSince: localOnly('changesSince'),
    touch: localOnly('touch'),
    ping: async () => {
      await c.get('/keys');
    },
    close: async () => {},
  };
  const policies: PolicyStore = {
    create: async (p: NewPolicy) => c.post<PolicyRecord>('/policies', { name: p.name, scopes: p.scopes, models: p.models, limits: p.limits, clamps: p.clamps }),
    find: (idOrName) => orNull(c.get<PolicyRecord>(`/policies/${seg(idOrName)}`)),
    list: async (o) => (await c.get<{ policies: PolicyRecord[] }>('/policies', { deleted: o?.includeDeleted ? 'true' : undefined })).policies,
    update: (id, patch) => c.patch<PolicyRecord>(`/policies/${seg(id)}`, patch),
    delete: (id) => c.delete<PolicyRecord>(`/policies/${seg(id)}`),
    changesSince: localOnly('changesSince'),
  };
  const audit: Stores['audit'] = {
    append: localOnly('append'),
    prune: localOnly('prune'),
    recordAdmin: localOnly('recordAdmin'),
    usage: async (q) => {
      const r = await c.get<{ rows: UsageRow[] }>('/usage', { since: q.since, until: q.until, by: q.by, key: q.principalId });
      return r.rows;
    },
    query: async (q) => (await c.get<{ records: AuditRecord[] }>('/audit', {
      since: q.since, until: q.until, key: q.principalId, denied: q.deniedOnly ? 'true' : undefined, afterId: q.afterId, limit: q.limit, order: q.order,
    })).records,
    adminEvents: async (q) => (await c.get<{ events: AdminEvent[] }>('/audit/admin', {
      since: q.since, until: q.until, key: q.keyId, action: q.action, afterId: q.afterId, limit: q.limit, order: q.order,
    })).events,
  };
  return {
    keys, policies, audit,
    blobs: { recordUpload: localOnly('blobs'), uploadedBy: localOnly('blobs'), uploadsOf: localOnly('blobs') },
    location: `gateway ${c.base}`,
    backend: 'sqlite',
    watchKeys: null,
    close: async () => {},
    async createApiKey(k) {
      const policy = k.policyId ?? null;
      const body = policy
        ? { name: k.name, expiresAt: k.expiresAt, policy }
        : { name: k.name, expiresAt: k.expiresAt, scopes: k.scopes, models: k.models, limits: k.limits, clamps: k.clamps };
      const r = await c.post<{ key: ApiKey; secret: string }>('/keys', body);
      return { rec: keyRecord(r.key), key: r.secret };
    },
    async rotateApiKey(id, overlap) {
      const r = await c.post<{ key: ApiKey; secret: string }>(`/keys/${seg(id)}/rotate`, { overlap });
      return { rec: keyRecord(r.key), key: r.secret };
    },
  };
}
