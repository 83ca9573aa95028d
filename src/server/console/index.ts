import type { Logger } from 'pino';
import type { Authenticator } from '../../auth/authenticator.js';
import type { KeyCache } from '../../auth/key-cache.js';
import type { PolicyCache } from '../../auth/policy-cache.js';
import type { Clock } from '../../core/clock.js';
import type { Config } from '../../config/schema.js';
import type { Limiter } from '../../limits/types.js';
import type { ConsoleSessionStore } from '../../store/types.js';
import { cookieNames } from './cookies.js';
import { ConsoleHandler } from './handler.js';
import { OidcSignIn } from './oidc-sign-in.js';
import { ConsoleSessionAuthenticator } from './session-authenticator.js';
import { SessionPrincipals } from './session-principal.js';
import { ConsoleSessions } from './sessions.js';
import { loadConsoleFiles } from './static-files.js';

/**
 * The console's parts, made by the composition root (server/app.ts) in two steps: the session
 * authenticator goes into the authenticator chain, the handler (which needs the limiter, made
 * later) onto the listener that serves the admin API.
 */
export interface ConsoleParts {
  authenticator: Authenticator;
  handler(limiter: Limiter, tokens: Authenticator | null): ConsoleHandler;
}

export function consoleParts(config: Config, deps: { store: ConsoleSessionStore; keys: KeyCache; policies: PolicyCache; clock: Clock; log: Logger; tls: boolean }): ConsoleParts | null {
  const c = config.admin.console;
  if (config.admin.listen === 'off' || !c.enabled) return null;
  const sessions = new ConsoleSessions(deps.store, deps.clock, { idleMs: c.session_idle, maxMs: c.session_max });
  const principals = new SessionPrincipals(deps.keys, deps.policies, deps.clock, config.auth.oidc);
  const cookies = cookieNames(deps.tls, config.base_path);
  const signIn = c.oidc ? new OidcSignIn(c.oidc) : null;
  const files = loadConsoleFiles();
  if (!files.index) deps.log.warn('the console was not built into this installation (dist/console is missing): /console/ answers 404; run npm run build');
  return {
    authenticator: new ConsoleSessionAuthenticator(sessions, principals, cookies),
    handler: (limiter, tokens) =>
      new ConsoleHandler({
        sessions, principals, cookies, files, keys: deps.keys, clock: deps.clock, limiter, log: deps.log, tls: deps.tls, basePath: config.base_path,
        bodyTimeoutMs: config.timeouts.client_body,
        oidc: signIn && tokens ? { signIn, tokens } : null,
      }),
  };
}
