/**
 * The console's cookies. The session cookie is `HttpOnly` and `SameSite=Strict` (a page on another
 * site can neither read it nor make the browser send it), `Secure` with the `__Host-` prefix under
 * TLS (bound to this origin, never sent in clear). The sign-in flow cookie is `SameSite=Lax`: the
 * provider's redirect back is a cross-site navigation, which a Strict cookie would not follow.
 */

export const FLOW_MAX_AGE_S = 600;

export interface CookieNames {
  session: string;
  flow: string;
  secure: boolean;
  /** The sign-in callback's path (under base_path), what the flow cookie is scoped to without TLS. */
  callbackPath: string;
}

export function cookieNames(tls: boolean, basePath = ''): CookieNames {
  const callbackPath = `${basePath}/console/api/callback`;
  return tls
    ? { session: '__Host-gatehouse_console', flow: '__Host-gatehouse_console_flow', secure: true, callbackPath }
    : { session: 'gatehouse_console', flow: 'gatehouse_console_flow', secure: false, callbackPath };
}

/** One cookie's value from a Cookie header; undefined when absent or sent twice (ambiguous: refused). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  let found: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    if (found !== undefined) return undefined;
    found = part.slice(eq + 1).trim();
  }
  return found !== undefined && /^[A-Za-z0-9_-]{1,128}$/.test(found) ? found : undefined;
}

export function sessionCookie(n: CookieNames, value: string, maxAgeS: number): string {
  return `${n.session}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${n.secure ? '; Secure' : ''}`;
}

export function flowCookie(n: CookieNames, value: string): string {
  // `__Host-` needs Path=/; without TLS the flow cookie is still scoped to the callback.
  return `${n.flow}=${value}; Path=${n.secure ? '/' : n.callbackPath}; HttpOnly; SameSite=Lax; Max-Age=${FLOW_MAX_AGE_S}${n.secure ? '; Secure' : ''}`;
}

export function clearCookie(n: CookieNames, which: 'session' | 'flow'): string {
  const path = which === 'flow' && !n.secure ? n.callbackPath : '/';
  return `${which === 'session' ? n.session : n.flow}=; Path=${path}; HttpOnly; SameSite=${which === 'session' ? 'Strict' : 'Lax'}; Max-Age=0${n.secure ? '; Secure' : ''}`;
}
