import { ApiError, BASE, get, post, setCsrf } from './api.js';
import type { Role, Session, SignInOptions } from './types.js';

/** The console session: probed at start, made by sign-in, ended by sign-out or the server. */

const SESSION = '/console/api/session';

/** The current session, or null when there is none (401). */
export async function loadSession(): Promise<Session | null> {
  try {
    const s = await get<Session>(SESSION, undefined, { quiet401: true });
    setCsrf(s.csrf);
    return s;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export async function signInWithKey(key: string): Promise<Session> {
  const s = await post<Session>(SESSION, { key }, { quiet401: true });
  setCsrf(s.csrf);
  return s;
}

export function signInOptions(): Promise<SignInOptions> {
  return get<SignInOptions>('/console/api/sign-in', undefined, { quiet401: true });
}

/** Where the browser goes (top-level) to sign in with provider `id`. */
export const oidcSignInUrl = (id: string): string => `${BASE}/console/api/sign-in/oidc/${encodeURIComponent(id)}`;

export async function signOut(): Promise<void> {
  try {
    await post<void>('/console/api/sign-out', undefined, { quiet401: true });
  } finally {
    setCsrf('');
  }
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** What each role may do (the server enforces the same; the console hides what a role lacks). */
export const can = {
  manageKeys: (r: Role): boolean => RANK[r] >= RANK.operator,
  managePolicies: (r: Role): boolean => RANK[r] >= RANK.admin,
  seeSettings: (r: Role): boolean => RANK[r] >= RANK.admin,
};
