import { CERT_SUBJECT_PREFIX } from '../auth/client-cert.js';
import type { Config } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { openStores, StoreMissingError } from '../store/index.js';
import { asOwnerOf } from '../store/as-owner.js';
import { isPostgresUrl } from '../store/postgres/url.js';
import type { KeyRecord } from '../store/types.js';
import type { Finding } from './types.js';

/** Key hygiene: keys that never expire, keys that can manage models, keys nobody uses. */

/** `policyNames`: the policies that exist (not deleted), for checks of what names them (doctor/oidc.ts). */
export type LoadedKeys = { records: KeyRecord[]; policyNames?: string[] } | { skipped: string } | { missing: StoreMissingError };

/**
 * Reads every key record without creating anything: a missing store is reported, not made. When
 * doctor runs as root on a data dir that belongs to the service user, the store is opened as that
 * user, so no root-owned file (an SQLite -wal or -shm) is left behind for the service to trip on.
 */
export async function loadKeys(config: Config): Promise<LoadedKeys> {
  const dir = config.data_dir;
  const read = async () => {
    const stores = await openStores({ dataDir: dir, store: config.store, ifMissing: 'fail' });
    try {
      // A key with a policy is checked for what its policy grants (its own scopes are not used).
      const policies = new Map((await stores.policies.list({ includeDeleted: true })).map((p) => [p.id, p]));
      const records = (await stores.keys.list()).map((r) => {
        const p = r.policyId === null ? undefined : policies.get(r.policyId);
        return r.policyId === null ? r : { ...r, scopes: p && p.deletedAt === null ? p.scopes : [], models: p && p.deletedAt === null ? p.models : [] };
      });
      return { records, policyNames: [...policies.values()].filter((p) => p.deletedAt === null).map((p) => p.name) };
    } finally {
      await stores.close();
    }
  };
  try {
    return isPostgresUrl(config.store) ? await read() : await asOwnerOf(dir, read);
  } catch (err) {
    if (err instanceof StoreMissingError) return { missing: err };
    return { skipped: `cannot read the key store: ${(err as Error).message}` };
  }
}

export function keyChecks(loaded: LoadedKeys, config: Config, o: { now: number; unusedAfterMs: number }): Finding[] {
  if ('skipped' in loaded) return [{ id: 'keys', severity: 'info', title: `Key checks skipped: ${loaded.skipped}` }];
  // runDoctor reports a missing store itself, with where the configuration was looked for.
  if ('missing' in loaded) return [];
  const out: Finding[] = [];
  const { now } = o;
  const active = loaded.records.filter((r) => r.revokedAt === null && (r.expiresAt === null || r.expiresAt > now));
  const inactive = loaded.records.length - active.length;
  const label = (r: KeyRecord) => `${r.name} (${r.id})`;
  const some = (list: KeyRecord[]) => list.slice(0, 10).map(label).join(', ') + (list.length > 10 ? ` and ${list.length - 10} more` : '');
  const n = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;

  if (active.length === 0) {
    out.push({ id: 'keys', severity: 'info', title: `No active keys${inactive ? ` (${inactive} revoked or expired)` : ''}: every authenticated request is refused`, fix: 'gatehouse keys create --name NAME --expires 90d' });
    return out;
  }
  const kinds = { api_key: 0, ssh_key: 0, client_cert: 0 } as Record<string, number>;
  for (const r of active) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
  out.push({ id: 'keys', severity: 'ok', title: `${n(active.length, 'active key')} (${kinds.api_key} API, ${kinds.ssh_key} SSH, ${kinds.client_cert} client certificate); ${inactive} revoked or expired` });

  const forever = active.filter((r) => r.expiresAt === null);
  if (forever.length) {
    out.push({
      id: 'keys.no_expiry', severity: 'warning',
      title: `${n(forever.length, 'active key')} never expire${forever.length === 1 ? 's' : ''}: ${some(forever)}`,
      detail: 'A leaked key that never expires works until someone notices and revokes it.',
      fix: `gatehouse keys update ${forever[0]!.id} --expires 90d   (and renew before it runs out)`,
    });
  }

  const managers = active.filter((r) => r.scopes.includes('models:manage'));
  if (managers.length) {
    out.push({
      id: 'keys.manage', severity: config.routes.manage ? 'warning' : 'info',
      title: `${n(managers.length, 'active key')} with models:manage: ${some(managers)}`,
      detail: config.routes.manage
        ? 'They can pull, push, create, copy and delete models, and unload models others are using.'
        : 'Inert while routes.manage is off; they gain those powers the day it is switched on.',
      fix: `Keep models:manage for the few keys that need it: gatehouse keys update ${managers[0]!.id} --scopes inference,models:read`,
    });
  }

  const unused = active.filter((r) => now - (r.lastUsedAt ?? r.createdAt) > o.unusedAfterMs);
  // If no key ever recorded a use, the gateway may not be recording use at all: say so, quietly.
  const recording = loaded.records.some((r) => r.lastUsedAt !== null);
  if (unused.length && !recording) {
    out.push({
      id: 'keys.unused', severity: 'info',
      title: `${n(unused.length, 'active key')} older than ${formatDuration(o.unusedAfterMs)} and no key has any recorded use: ${some(unused)}`,
      detail: 'Either none was ever used, or the gateway does not record last use; unused keys cannot be told apart.',
    });
  } else if (unused.length) {
    out.push({
      id: 'keys.unused', severity: 'warning',
      title: `${n(unused.length, 'active key')} with no recorded use in ${formatDuration(o.unusedAfterMs)}: ${some(unused)}`,
      detail: 'A key nobody uses is one nobody would miss, and nobody would notice being misused.',
      fix: `gatehouse keys revoke ${unused[0]!.id}`,
    });
  }

  const certs = active.filter((r) => r.kind === 'client_cert');
  if (certs.length && config.tls.client_auth === 'none') {
    out.push({
      id: 'keys.cert_unreachable', severity: 'warning',
      title: `${n(certs.length, 'client certificate principal')} registered, but tls.client_auth is none`,
      detail: 'The gateway does not ask for client certificates, so these principals cannot sign in.',
      fix: 'Set tls.client_auth: optional (or require, with tls.client_ca), or revoke them.',
    });
  }
  const bySubject = certs.filter((r) => r.fingerprint?.startsWith(CERT_SUBJECT_PREFIX));
  if (bySubject.length && !config.tls.client_ca) {
    out.push({
      id: 'keys.cert_subject_without_ca', severity: 'warning',
      title: `${n(bySubject.length, 'principal')} mapped by certificate subject, but no tls.client_ca is set: ${some(bySubject)}`,
      detail: 'Subject mappings are used only for certificates that verify against tls.client_ca (otherwise anyone could mint that subject).',
      fix: 'Set tls.client_ca to the CA that issues client certificates, or pin certificates by fingerprint (gatehouse keys add-cert --cert-file FILE).',
    });
  }
  return out;
}
