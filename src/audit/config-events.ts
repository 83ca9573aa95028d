import { hostname, userInfo } from 'node:os';
import type { AdminEvent, AuditStore } from '../store/types.js';
import { redactUrl } from '../config/redact.js';

/**
 * Configuration changes in the admin trail. Gatehouse's config is a file (plus environment and
 * flags), edited outside the CLI, so the change is noticed where it takes effect: when `serve`
 * starts, it compares the effective configuration with the last one recorded and, if they differ,
 * records `config.change` with every changed setting (from → to), who started it and when.
 * Secrets never reach the record: URL passwords become *** and secret-looking fields are
 * replaced.
 */

type Flat = Record<string, unknown>;

const SECRET_FIELD = /(password|passwd|secret|token|credential)/i;

export function flattenConfig(value: unknown, prefix = '', out: Flat = {}): Flat {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const path = prefix ? `${prefix}.${k}` : k;
      if (SECRET_FIELD.test(k) && v !== undefined && v !== null && typeof v !== 'object') out[path] = '[redacted]';
      else flattenConfig(v, path, out);
    }
    return out;
  }
  if (prefix) out[prefix] = redactValue(value);
  return out;
}

function redactValue(v: unknown): unknown {
  if (typeof v === 'string') return redactUrl(v);
  if (Array.isArray(v)) return v.map(redactValue);
  return v;
}

export function serverActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry (containers) */
  }
  return `server:${user}@${hostname()}`;
}

/** Records the configuration if it differs from the last recorded one; returns the event, if any. */
export async function recordConfigChange(store: AuditStore, config: unknown, actor: string, now = Date.now()): Promise<Omit<AdminEvent, 'id'> | null> {
  const snapshot = flattenConfig(config);
  const [last] = await store.adminEvents({ action: 'config.', order: 'desc', limit: 1 });
  const before = (last?.detail.snapshot as Flat | undefined) ?? null;
  let event: Omit<AdminEvent, 'id'>;
  if (!before) {
    event = { at: now, actor, action: 'config.initial', keyId: null, detail: { snapshot } };
  } else {
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const k of new Set([...Object.keys(before), ...Object.keys(snapshot)])) {
      if (JSON.stringify(before[k]) !== JSON.stringify(snapshot[k])) changes[k] = { from: before[k] ?? null, to: snapshot[k] ?? null };
    }
    if (Object.keys(changes).length === 0) return null;
    event = { at: now, actor, action: 'config.change', keyId: null, detail: { changes, snapshot } };
  }
  await store.recordAdmin(event);
  return event;
}
