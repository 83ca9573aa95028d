import { admin } from './admin.js';
import { anthropic } from './anthropic.js';
import { ollama } from './ollama.js';
import { openai } from './openai.js';
import type { Accounting, Dialect } from './types.js';

/**
 * The dialects Gatehouse speaks. Each is a module singleton: routes point at these objects, and
 * nothing is built per request.
 */

export { admin, anthropic, ollama, openai };
export type { Accounting, Counts, Dialect, DialectId } from './types.js';

export const DIALECTS: readonly Dialect[] = Object.freeze([ollama, openai, anthropic]);

/** The dialect for a path, including paths that match no route (the shape of a refusal before a route matched). */
export function dialectForPath(path: string): Dialect {
  if (path === '/admin' || path.startsWith('/admin/')) return admin;
  if (path === '/v1/messages' || path.startsWith('/v1/messages/')) return anthropic;
  if (path.startsWith('/v1/')) return openai;
  return ollama;
}

const BY_ACCOUNTING = new Map<Accounting, Dialect>();
for (const d of DIALECTS) for (const kind of d.accounting) BY_ACCOUNTING.set(kind, d);

/** The dialect whose responses an accounting kind reads; `none` belongs to every one (the native one answers). */
export function dialectOfAccounting(kind: Accounting): Dialect {
  return BY_ACCOUNTING.get(kind) ?? ollama;
}
