import type { Clock } from '../../core/clock.js';
import { refuse } from '../../core/errors.js';
import type { AuthAnswer, AuthRequest, AuthResult, Authenticator } from '../authenticator.js';
import type { Credential } from '../credentials.js';
import type { PolicyCache, ResolvedPolicy } from '../policy-cache.js';
import type { ResolvedPrincipal } from '../principal.js';
import { checkStanding, type StandingWords } from '../standing.js';
import { identityOf, missingPolicy, principalOf, ruleFor, type Identity, type IssuerRules } from './identity.js';
import { IssuerKeys } from './issuer-keys.js';
import { quote, readJwt } from './shape.js';
import { ALGORITHMS, CLOCK_SKEW_S, verifyJwt } from './verify.js';
import { tokenHash, VerifyCache } from './verify-cache.js';

/**
 * JWT bearer tokens from the OpenID providers in `auth.oidc` (README "Sign in with your identity
 * provider"). Claims every credential shaped like a JWT, however sent (Bearer, x-api-key for the
 * Anthropic SDKs, the Basic password), so none falls through to the API-key check. A token seen
 * before is answered synchronously from the verify cache; one not seen before is checked by its
 * issuer's keys (auth/oidc/verify.ts) and answered with a promise. Before any of that, a token
 * whose `iss` is not configured or whose `alg` is not allowed is refused at once, without a fetch.
 */

export interface OidcIssuerConfig extends IssuerRules {
  readonly audience: string;
  readonly jwks_min_refresh: number;
}

interface Issuer {
  readonly cfg: OidcIssuerConfig;
  readonly keys: IssuerKeys;
}

interface Entry {
  readonly validUntil: number;
  readonly identity: Identity;
  readonly cfg: OidcIssuerConfig;
  /** The principal built from `policy`; rebuilt when the policy cache holds another object for that name (the policy changed). */
  policy: ResolvedPolicy | null;
  principal: ResolvedPrincipal | null;
}

const ALLOWED = new Set<string>(ALGORITHMS);
const CACHE_MAX = 50_000;

export const OIDC_STANDING: StandingWords = {
  revokedCode: 'GW_ERR_AUTH_JWT_EXPIRED',
  expiredCode: 'GW_ERR_AUTH_JWT_EXPIRED',
  revoked: () => 'this sign-in was revoked; sign in again',
  expired: (p) => `this token (sub ${quote(p.subject)} from issuer ${p.issuer}) has expired; sign in again to get a new one`,
};

export class OidcAuthenticator implements Authenticator {
  readonly #issuers = new Map<string, Issuer>();
  readonly #policies: PolicyCache;
  readonly #clock: Clock;
  readonly #cache = new VerifyCache<Entry>(CACHE_MAX);
  /** Verifications under way, by token hash: a burst of requests with one new token waits on one check. */
  readonly #inFlight = new Map<string, Promise<Entry | AuthResult>>();

  constructor(configs: readonly OidcIssuerConfig[], policies: PolicyCache, clock: Clock) {
    for (const cfg of configs) this.#issuers.set(cfg.issuer, { cfg, keys: new IssuerKeys(cfg.issuer, cfg.jwks_min_refresh) });
    this.#policies = policies;
    this.#clock = clock;
  }

  /** Discovers every issuer's keys ahead of the first token; failures are retried on demand. */
  warm(onError: (issuer: string, why: string) => void): void {
    for (const { keys } of this.#issuers.values()) keys.keys().catch((err: unknown) => onError(keys.issuer, (err as Error).message));
  }

  authenticate(credential: Credential, _request: AuthRequest): AuthAnswer | null {
    if (credential.kind !== 'api_key') return null;
    const token = credential.key;
    // Gatehouse keys have no dots: one test passes them on to the API-key authenticator.
    if (token.indexOf('.') === -1) return null;
    const hash = tokenHash(token);
    const now = this.#clock.now();
    const hit = this.#cache.get(hash, now);
    if (hit) return this.#answer(hit);

    const jwt = readJwt(token);
    if (!jwt) return null;
    const alg = jwt.header.alg as string;
    if (!ALLOWED.has(alg)) {
      return fail('GW_ERR_AUTH_JWT_ALG', `this token is signed with ${quote(alg, 20)}, which is never accepted${alg === 'none' ? ' (an unsigned token proves nothing)' : /^HS/i.test(alg) ? ' (a shared-secret HMAC is not a provider signature)' : ''}; accepted: ${ALGORITHMS.join(', ')}`);
    }
    const iss = jwt.payload.iss;
    const issuer = typeof iss === 'string' ? this.#issuers.get(iss) : undefined;
    if (!issuer) {
      const accepted = [...this.#issuers.keys()].join(', ');
      return fail('GW_ERR_AUTH_JWT_ISSUER', typeof iss === 'string' ? `this gateway does not accept tokens from issuer ${quote(iss)}; accepted issuers: ${accepted}` : `this token names no issuer (iss); accepted issuers: ${accepted}`);
    }
    let pending = this.#inFlight.get(hash);
    if (!pending) {
      pending = this.#verify(token, hash, issuer).finally(() => this.#inFlight.delete(hash));
      this.#inFlight.set(hash, pending);
    }
    return pending.then((r) => ('validUntil' in r ? this.#answer(r) : r));
  }

  async #verify(token: string, hash: string, issuer: Issuer): Promise<Entry | AuthResult> {
    const v = await verifyJwt(token, issuer.keys, issuer.cfg.audience, this.#clock.now());
    if (!v.ok) return { ok: false, error: v.error };
    const identity = identityOf(v.claims, issuer.cfg);
    if (!('subject' in identity)) return { ok: false, error: identity };
    const entry: Entry = { validUntil: identity.exp + CLOCK_SKEW_S * 1000, identity, cfg: issuer.cfg, policy: null, principal: null };
    this.#cache.set(hash, entry);
    return entry;
  }

  /** The cached path: the rule and policy are looked up again (cheap) so policy changes apply at once. */
  #answer(e: Entry): AuthResult {
    const rule = ruleFor(e.identity, e.cfg);
    if (!('policy' in rule)) return { ok: false, error: rule };
    const policy = this.#policies.byName(rule.policy);
    if (!policy) return { ok: false, error: missingPolicy(e.identity, rule) };
    if (e.policy !== policy || e.principal === null) {
      e.policy = policy;
      e.principal = principalOf(e.identity, policy, e.validUntil);
    }
    return checkStanding(e.principal, this.#clock, OIDC_STANDING);
  }
}

function fail(code: 'GW_ERR_AUTH_JWT_ALG' | 'GW_ERR_AUTH_JWT_ISSUER', message: string): AuthResult {
  return { ok: false, error: refuse(code, message) };
}
