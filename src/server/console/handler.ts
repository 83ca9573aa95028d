import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Authenticator } from '../../auth/authenticator.js';
import { authenticateApiKey } from '../../auth/authenticate.js';
import type { KeyCache } from '../../auth/key-cache.js';
import type { ResolvedPrincipal } from '../../auth/principal.js';
import type { Clock } from '../../core/clock.js';
import { GatewayError, refuse } from '../../core/errors.js';
import type { HttpMethod } from '../../core/types.js';
import { admin as adminDialect } from '../../dialects/admin.js';
import type { Limiter } from '../../limits/types.js';
import type { Call } from '../../request/call.js';
import type { RouteDef } from '../../routes/table.js';
import { readBody } from '../read-body.js';
import { countedFailure } from '../stages/authenticate.js';
import { sendRefusal } from '../stages/refusal.js';
import { clearCookie, flowCookie, readCookie, sessionCookie, type CookieNames } from './cookies.js';
import { newCodeVerifier, type OidcSignIn } from './oidc-sign-in.js';
import { roleOf } from './roles.js';
import type { SessionPrincipals } from './session-principal.js';
import { csrfMatches, type ConsoleSessions } from './sessions.js';
import type { ConsoleFiles, StaticFile } from './static-files.js';

/**
 * The web console at /console/ (on the listener that serves the admin API): its built files and
 * its session endpoints under /console/api/. Everything the console shows or changes goes through
 * the admin API (/admin/v1), authenticated by the session cookie (session-authenticator.ts).
 * Every answer carries a Content-Security-Policy that allows only this origin's scripts and styles
 * (no inline script, no eval) and no framing.
 */

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};
const SIGN_IN_BODY_MAX = 4096;

export interface ConsoleDeps {
  sessions: ConsoleSessions;
  principals: SessionPrincipals;
  cookies: CookieNames;
  files: ConsoleFiles;
  keys: KeyCache;
  clock: Clock;
  limiter: Limiter;
  log: Logger;
  tls: boolean;
  /** base_path: the console's own links and redirects carry it (requests arrive with it, the edge strips it). */
  basePath: string;
  bodyTimeoutMs: number;
  /** Sign-in through the provider (admin.console.oidc), and the authenticator that checks its tokens. */
  oidc: { signIn: OidcSignIn; tokens: Authenticator } | null;
}

const def = (id: string, method: HttpMethod, path: string): RouteDef =>
  Object.freeze<RouteDef>({ id, method, path, scope: null, body: 'none', dialect: adminDialect, modelFields: [], accounting: 'none', local: 'console' });

/** The console's routes, exact; the audit records their ids. */
const ROUTES: ReadonlyMap<string, RouteDef> = new Map(
  [
    def('console.page', 'GET', '/console/'),
    def('console.signin.options', 'GET', '/console/api/sign-in'),
    def('console.session.show', 'GET', '/console/api/session'),
    def('console.session.create', 'POST', '/console/api/session'),
    def('console.signout', 'POST', '/console/api/sign-out'),
    def('console.signin.oidc', 'GET', '/console/api/sign-in/oidc/0'),
    def('console.signin.callback', 'GET', '/console/api/callback'),
  ].map((r) => [`${r.method} ${r.path}`, r]),
);
const ASSET = def('console.asset', 'GET', '/console/assets/:name');

export function isConsolePath(path: string): boolean {
  return path === '/console' || path.startsWith('/console/');
}

export class ConsoleHandler {
  readonly #d: ConsoleDeps;

  constructor(deps: ConsoleDeps) {
    this.#d = deps;
  }

  /** Answers the call; the call is the console's from here on (its refusals in the admin API's shape). */
  answer(call: Call): void {
    call.dialect = adminDialect;
    const path = call.path;
    const method = call.method === 'HEAD' ? 'GET' : call.method;
    if (path === '/console') return this.#send(call, 308, { location: `${this.#d.basePath}/console/` }, null);
    if (path.startsWith('/console/assets/')) {
      call.scope.route = ASSET;
      if (method !== 'GET') return this.#refuse(call, refuse('GW_ERR_METHOD_NOT_ALLOWED', 'method not allowed: the console\'s files are read with GET', { headers: { allow: 'GET, HEAD' } }));
      const f = this.#d.files.assets.get(path.slice('/console/assets/'.length));
      return f ? this.#file(call, f) : this.#refuse(call, refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: no such console file'));
    }
    const route = ROUTES.get(`${method} ${path}`);
    if (!route) {
      const other = [...ROUTES.values()].filter((r) => r.path === path).map((r) => r.method);
      return this.#refuse(call, other.length
        ? refuse('GW_ERR_METHOD_NOT_ALLOWED', `method not allowed: ${path} takes ${other.join(', ')}`, { headers: { allow: other.join(', ') } })
        : refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: the console is at /console/ (its pages are #/overview, #/keys, …)'));
    }
    call.scope.route = route;
    call.route = route;
    void this.#route(call, route.id).catch((err: unknown) => {
      if (err instanceof GatewayError) return this.#refuse(call, err);
      this.#d.log.error({ err: (err as Error).message, request_id: call.scope.id, route: route.id }, 'console request failed');
      this.#refuse(call, refuse('GW_ERR_INTERNAL', 'the console request failed inside Gatehouse; the operator can find the cause in the gateway log under this request id'));
    });
  }

  async #route(call: Call, id: string): Promise<void> {
    switch (id) {
      case 'console.page': {
        const index = this.#d.files.index;
        if (!index) throw refuse('GW_ERR_ROUTE_NOT_FOUND', 'the console was not built into this installation (npm run build writes dist/console)');
        return this.#file(call, index);
      }
      case 'console.signin.options': {
        const o = this.#d.oidc;
        return this.#json(call, 200, { oidc: o ? [{ id: '0', issuer: o.signIn.cfg.issuer, label: o.signIn.label }] : [], key: o === null });
      }
      case 'console.session.show':
        return this.#showSession(call);
      case 'console.session.create':
        return this.#keySignIn(call);
      case 'console.signout':
        return this.#signOut(call);
      case 'console.signin.oidc':
        return this.#oidcStart(call);
      case 'console.signin.callback':
        return this.#oidcCallback(call);
    }
  }

  async #current(call: Call): Promise<{ secret: string; csrf: string; principal: ResolvedPrincipal; expiresAt: number; idleEndsAt: number }> {
    const secret = readCookie(call.req.headers.cookie, this.#d.cookies.session);
    const found = secret === undefined ? null : await this.#d.sessions.find(secret);
    if (!found || secret === undefined) throw refuse('GW_ERR_CONSOLE_SESSION', 'not signed in to the console (or the session has ended); sign in at /console/');
    const p = this.#d.principals.resolve(found.record.principal, found.record.expiresAt);
    if (p instanceof GatewayError) {
      await this.#d.sessions.end(secret);
      throw p;
    }
    call.principal = p;
    call.scope.principal = p;
    return { secret, csrf: found.csrf, principal: p, expiresAt: found.record.expiresAt, idleEndsAt: found.idleEndsAt };
  }

  async #showSession(call: Call): Promise<void> {
    const s = await this.#current(call);
    const role = roleOf(s.principal.scopes);
    if (!role) throw noRole(s.principal);
    this.#json(call, 200, sessionBody(s.principal, role, s.csrf, s.expiresAt, this.#d.sessions.idleMs));
  }

  async #keySignIn(call: Call): Promise<void> {
    if (this.#d.oidc) throw refuse('GW_ERR_CONSOLE_SIGN_IN', `this console signs in through ${this.#d.oidc.signIn.cfg.issuer} (admin.console.oidc), not with a key`);
    const body = await readJson(call, this.#d.bodyTimeoutMs);
    const key = typeof body.key === 'string' ? body.key.trim() : '';
    if (!key || Object.keys(body).some((k) => k !== 'key')) throw refuse('GW_ERR_ADMIN_INVALID', 'send {"key": "gatehouse_…"}: an API key with an admin scope (admin:read, admin:keys or admin)');
    const r = authenticateApiKey(key, this.#d.keys, this.#d.clock);
    if (!r.ok) throw countedFailure(this.#d.limiter, call.scope.clientIp, r.error);
    const p = r.principal;
    call.principal = p;
    call.scope.principal = p;
    const role = roleOf(p.scopes);
    if (!role || p.owner) throw noRole(p);
    const s = await this.#d.sessions.open({ kind: 'key', keyId: p.id });
    this.#json(call, 201, sessionBody(p, role, s.csrf, s.record.expiresAt, this.#d.sessions.idleMs), { 'set-cookie': sessionCookie(this.#d.cookies, s.secret, Math.ceil(this.#d.sessions.maxMs / 1000)) });
  }

  async #signOut(call: Call): Promise<void> {
    const s = await this.#current(call);
    if (!csrfMatches(call.req.headers['x-csrf-token'], s.csrf)) throw refuse('GW_ERR_CONSOLE_CSRF', 'signing out needs the session\'s X-CSRF-Token header');
    await this.#d.sessions.end(s.secret);
    this.#send(call, 204, { 'set-cookie': clearCookie(this.#d.cookies, 'session') }, null);
  }

  #redirectUri(call: Call): string {
    return `${this.#d.tls ? 'https' : 'http'}://${call.req.headers.host}${this.#d.basePath}/console/api/callback`;
  }

  async #oidcStart(call: Call): Promise<void> {
    const o = this.#d.oidc;
    if (!o) throw refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: no identity provider is configured for the console (admin.console.oidc)');
    const verifier = newCodeVerifier();
    // The pending sign-in is a row of the session store, so the callback may land on any process.
    const pending = await this.#d.sessions.open({ kind: 'pending', codeVerifier: verifier }, 600_000);
    let location: string;
    try {
      location = await o.signIn.start(this.#redirectUri(call), pending.secret, verifier);
    } catch (err) {
      this.#d.log.warn({ err: (err as Error).message, issuer: o.signIn.cfg.issuer }, 'console sign-in: the identity provider cannot be read');
      return this.#toSignIn(call, `the identity provider cannot be reached right now (${(err as Error).message}); try again shortly`);
    }
    this.#send(call, 302, { location, 'set-cookie': flowCookie(this.#d.cookies, pending.secret) }, null);
  }

  async #oidcCallback(call: Call): Promise<void> {
    const o = this.#d.oidc;
    if (!o) throw refuse('GW_ERR_ROUTE_NOT_FOUND', 'not found: no identity provider is configured for the console (admin.console.oidc)');
    const q = new URLSearchParams(call.query);
    const state = q.get('state') ?? '';
    const flow = readCookie(call.req.headers.cookie, this.#d.cookies.flow);
    // The state must be this browser's own sign-in (its flow cookie): a link carrying someone
    // else's code must not sign this browser in as them.
    if (flow === undefined || !csrfMatches(state, flow)) return this.#toSignIn(call, 'this sign-in was not started from this browser, or took more than 10 minutes; start again');
    const pending = await this.#d.sessions.take(flow);
    if (!pending || pending.principal.kind !== 'pending') return this.#toSignIn(call, 'this sign-in has already been used or has expired; start again');
    const error = q.get('error');
    if (error) return this.#toSignIn(call, `the identity provider refused the sign-in: ${error.slice(0, 100)}${q.get('error_description') ? ` (${q.get('error_description')!.slice(0, 200)})` : ''}`);
    const code = q.get('code');
    if (!code) return this.#toSignIn(call, 'the identity provider sent no code; start again');
    const t = await o.signIn.exchange(code, this.#redirectUri(call), pending.principal.codeVerifier).catch((err: Error) => ({ error: `the identity provider cannot be reached (${err.message})` }));
    if ('error' in t) return this.#toSignIn(call, t.error);
    const checked = await o.tokens.authenticate({ kind: 'api_key', key: t.accessToken }, call);
    if (!checked) return this.#toSignIn(call, 'the provider\'s token is not a JWT this gateway can check: its access tokens must be JWTs for auth.oidc\'s audience');
    if (!checked.ok) return this.#toSignIn(call, checked.error.message);
    const p = checked.principal;
    call.principal = p;
    call.scope.principal = p;
    const role = roleOf(p.scopes);
    if (!role || p.kind !== 'oidc' || !p.issuer || !p.subject || !p.policyId) return this.#toSignIn(call, noRole(p).message);
    const s = await this.#d.sessions.open({ kind: 'oidc', issuer: p.issuer, subject: p.subject, name: p.name, policyId: p.policyId });
    this.#send(call, 303, {
      location: `${this.#d.basePath}/console/#/overview`,
      'set-cookie': [sessionCookie(this.#d.cookies, s.secret, Math.ceil(this.#d.sessions.maxMs / 1000)), clearCookie(this.#d.cookies, 'flow')],
    }, null);
  }

  /** Back to the sign-in page with the reason (shown as text there). */
  #toSignIn(call: Call, why: string): void {
    call.scope.decision = 'refused';
    call.scope.reason = 'GW_ERR_CONSOLE_SIGN_IN';
    this.#send(call, 303, { location: `${this.#d.basePath}/console/#/sign-in?error=${encodeURIComponent(why.slice(0, 400))}`, 'set-cookie': clearCookie(this.#d.cookies, 'flow') }, null);
  }

  #file(call: Call, f: StaticFile): void {
    if (call.req.headers['if-none-match'] === f.etag) return this.#send(call, 304, { etag: f.etag, 'cache-control': 'no-cache' }, null);
    this.#send(call, 200, { 'content-type': f.type, etag: f.etag, 'cache-control': 'no-cache' }, f.body);
  }

  #json(call: Call, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.#send(call, status, { 'content-type': 'application/json; charset=utf-8', ...headers }, Buffer.from(JSON.stringify(body)));
  }

  #send(call: Call, status: number, headers: Record<string, string | string[]>, body: Buffer | null): void {
    const res: ServerResponse = call.res;
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { ...SECURITY_HEADERS, 'cache-control': 'no-store', ...headers, 'content-length': body ? body.length : 0, 'x-request-id': call.scope.id });
    res.end(call.method === 'HEAD' ? undefined : (body ?? undefined));
    call.scope.bytesOut = body?.length ?? 0;
  }

  #refuse(call: Call, err: GatewayError): void {
    if (call.res.destroyed || call.res.headersSent) return;
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) call.res.setHeader(k, v);
    sendRefusal(call, err);
  }
}

function sessionBody(p: ResolvedPrincipal, role: string, csrf: string, expiresAt: number, idleTimeoutMs: number) {
  return { principal: { id: p.id, name: p.name, kind: p.kind, scopes: [...p.scopes].sort() }, role, csrf, expiresAt, idleTimeoutMs };
}

function noRole(p: ResolvedPrincipal): GatewayError {
  return refuse('GW_ERR_CONSOLE_SIGN_IN', `${p.kind === 'oidc' ? 'your identity' : 'this key'} ("${p.name}") has no admin scope: the console needs admin:read (to look), admin:keys (to manage keys) or admin; ${p.kind === 'oidc' ? 'the operator can add one to your policy (gatehouse policies update …)' : 'the operator can add one (gatehouse keys update … --scopes …)'}`);
}

function readJson(call: Call, timeoutMs: number): Promise<Record<string, unknown>> {
  const type = call.req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) return Promise.reject(refuse('GW_ERR_BODY_ENCODING', 'send the sign-in as JSON (Content-Type: application/json)'));
  return new Promise((resolve, reject) => {
    readBody(call.req, SIGN_IN_BODY_MAX, timeoutMs, (b) => {
      if (b instanceof GatewayError) return reject(b);
      call.scope.bytesIn = b.length;
      try {
        const v = JSON.parse(b.toString('utf8')) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) return resolve(v as Record<string, unknown>);
      } catch { /* answered below */ }
      reject(refuse('GW_ERR_ADMIN_INVALID', 'send {"key": "gatehouse_…"} as a JSON object'));
    });
  });
}
