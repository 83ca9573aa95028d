import type { Scope } from '../../core/types.js';

/**
 * The console's roles, from the admin scopes (core/types.ts scopeGrants): a viewer reads every
 * page, an operator also manages keys, an admin also policies and sees the settings. The console
 * hides what a role cannot do; the admin API refuses it anyway.
 */
export type Role = 'viewer' | 'operator' | 'admin';

export function roleOf(scopes: ReadonlySet<Scope>): Role | null {
  if (scopes.has('admin')) return 'admin';
  if (scopes.has('admin:keys')) return 'operator';
  if (scopes.has('admin:read')) return 'viewer';
  return null;
}
