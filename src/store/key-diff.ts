import type { KeyRecord } from './types.js';

/** What changed between two versions of a key, for the admin audit trail (no secrets: keys hold none). */
export function keyDiff(before: KeyRecord, after: KeyRecord): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of ['name', 'scopes', 'models', 'limits', 'clamps', 'expiresAt'] as const) {
    const a = JSON.stringify(before[field]);
    const b = JSON.stringify(after[field]);
    if (a !== b) out[field] = { from: before[field], to: after[field] };
  }
  return out;
}
