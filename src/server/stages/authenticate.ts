import type { AuthResult } from '../../auth/authenticator.js';
import { refuse, type GatewayError } from '../../core/errors.js';
import type { Limiter } from '../../limits/types.js';
import type { Call } from '../../request/call.js';
import type { GatewayContext } from './context.js';
import { sendRefusal } from './refusal.js';
import { CONTINUE, resume, SUSPENDED, type StageResult } from './stage.js';

/**
 * Runs the authenticator chain (auth/authenticator.ts). A failure counts against the client's
 * address: past the limit the answer becomes 429 with Retry-After (limits/auth-failures.ts).
 * An authenticator that must wait (a JWT not seen before: auth/oidc/) answers a promise; the path
 * is then suspended and resumed, or refused, when it settles.
 */
export function authenticate(call: Call, gw: GatewayContext): StageResult {
  const auth = gw.authenticators.authenticate(call);
  if (auth instanceof Promise) {
    auth.then(
      (r) => {
        if (call.res.destroyed) return;
        const out = settled(call, gw, r);
        if (out === CONTINUE) resume(call, gw);
        else sendRefusal(call, out);
      },
      () => {
        // Authenticators answer refusals, not rejections; a rejection is a bug: deny.
        if (!call.res.destroyed) sendRefusal(call, refuse('GW_ERR_AUTH_INVALID', 'the credential could not be checked'));
      },
    );
    return SUSPENDED;
  }
  return settled(call, gw, auth);
}

function settled(call: Call, gw: GatewayContext, auth: AuthResult): typeof CONTINUE | GatewayError {
  if (!auth.ok) {
    // A provider that cannot be reached is not the client's failure (503): it is not counted.
    if (auth.error.status === 503) return auth.error;
    return countedFailure(gw.limiter, call.scope.clientIp, auth.error);
  }
  const principal = auth.principal;
  call.principal = principal;
  call.scope.principal = principal;
  // OIDC identities are not keys: there is no key row whose last use to note.
  if (principal.kind !== 'oidc') gw.lastUsed?.note(principal.id, call.scope.startedAt);
  return CONTINUE;
}

/**
 * A failed authentication, counted against the client's address (limits/auth-failures.ts): the
 * refusal itself, or 429 with Retry-After once the address is past the limit. Also the console's
 * key sign-in (server/console/handler.ts).
 */
export function countedFailure(limiter: Limiter, clientIp: string, error: GatewayError): GatewayError {
  const retryAfter = limiter.authFailure(clientIp);
  if (retryAfter > 0) {
    return refuse('GW_ERR_AUTH_TOO_MANY_FAILURES', `too many failed authentications from your address; try again in ${retryAfter} s`, { headers: { 'retry-after': String(retryAfter) } });
  }
  return error;
}
