import type { KeyRecord, PolicyRecord } from './types.js';

type Diff = Record<string, { from: unknown; to: unknown }>;

function diff<T>(before: T, after: T, fields: ReadonlyArray<keyof T & string>): Diff {
  const out: Diff = {};
  for (const field of fields) {
    const a = JSON.stringify(before[field]);
    const b = JSON.stringify(after[field]);
    if (a !== b) out[field] = { from: before[field], to: after[field] };
  }
  return out;
}

/** What changed between two versions of a key, for the admin audit trail (no secrets: keys hold none). */
export function keyDiff(before: KeyRecord, after: KeyRecord): Diff {
  return diff(before, after, ['name', 'scopes', 'models', 'limits', 'clamps', 'expiresAt', 'policyId']);
}

/** What changed between two versions of a policy, for the admin audit trail. */
export function policyDiff(before: PolicyRecord, after: PolicyRecord): Diff {
  return diff(before, after, ['name', 'scopes', 'models', 'limits', 'clamps']);
}
