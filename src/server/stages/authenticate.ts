import { refuse } from '../../core/errors.js';
import type { Call } from '../../request/call.js';
import type { GatewayContext } from './context.js';
import { CONTINUE, type StageResult } from './stage.js';

/**
 * Runs the authenticator chain (auth/authenticator.ts). A failure counts against the client's
 * address: past the limit the answer becomes 429 with Retry-After (limits/auth-failures.ts).
 */
export function authenticate(call: Call, gw: GatewayContext): StageResult {
  const auth = gw.authenticators.authenticate(call);
  if (!auth.ok) {
    const retryAfter = gw.limiter.authFailure(call.scope.clientIp);
    if (retryAfter > 0) {
      return refuse('GW_ERR_AUTH_TOO_MANY_FAILURES', `too many failed authentications from your address; try again in ${retryAfter} s`, { headers: { 'retry-after': String(retryAfter) } });
    }
    return auth.error;
  }
  const principal = auth.principal;
  call.principal = principal;
  call.scope.principal = principal;
  gw.lastUsed?.note(principal.id, call.scope.startedAt);
  return CONTINUE;
}
