import type { z } from 'zod';
import { refuse, type GatewayError } from '../core/errors.js';
import { PolicyInUseError, KeyNotRotatableError } from '../store/types.js';

/** The admin API's refusals, each saying what to do next (docs/errors.md). */

export const notFound = (what: string, hint: string): GatewayError => refuse('GW_ERR_ADMIN_NOT_FOUND', `no ${what}; ${hint}`);
export const conflict = (message: string): GatewayError => refuse('GW_ERR_ADMIN_CONFLICT', message);

/** A schema failure: the first few issues, each with the field it is about. */
export function invalid(where: 'body' | 'query', err: z.ZodError): GatewayError {
  const issues = err.issues.slice(0, 5).map((i) => {
    const path = i.path.length ? i.path.join('.') : where;
    return `${path}: ${i.message}`;
  });
  return refuse('GW_ERR_ADMIN_INVALID', `invalid request ${where}: ${issues.join('; ')} (the schemas are in GET /admin/v1/openapi.json)`);
}

/** Store errors that are the caller's to fix become 409s; anything else stays an internal error. */
export function fromStoreError(err: unknown): GatewayError | null {
  if (err instanceof PolicyInUseError || err instanceof KeyNotRotatableError) return conflict(err.message);
  const m = err instanceof Error ? err.message : '';
  if (/already exists|is deleted|keys are named/.test(m)) return conflict(m);
  return null;
}
