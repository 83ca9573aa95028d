import type { IncomingMessage } from 'node:http';
import type { GatewayError } from '../core/errors.js';
import { headerCount } from '../core/raw-headers.js';
import { extractCredential, type Credential } from './credentials.js';
import { malformedCredential, missingCredential, unclaimedCredential } from './authenticate.js';
import type { ResolvedPrincipal } from './principal.js';

/**
 * The authentication contract. Each way of authenticating (API keys, the ollama CLI's Ed25519
 * tokens, TLS client certificates, …) is one Authenticator: it recognises the credentials it owns
 * and answers a principal or a refusal, or null ("not mine") to let the next one look. The chain
 * (composed in server/app.ts from config) asks them in order and refuses what none claims.
 */

export type AuthResult = { ok: true; principal: ResolvedPrincipal } | { ok: false; error: GatewayError };

/** What an authenticator may look at besides the credential: the per-request call satisfies it as is. */
export interface AuthRequest {
  readonly req: IncomingMessage;
  readonly method: string;
  /** Path as sent, base_path removed, no query (what an Ed25519 token signs). */
  readonly path: string;
  /** The raw query string, without `?`. */
  readonly query: string;
}

/**
 * What an authenticator answers: null ("not mine"), a result, or, only when it must wait for
 * something it cannot know yet (a JWT it has not seen, its provider's keys), a promise of one. The
 * authenticate stage then suspends and resumes the path when it settles; everything it has seen
 * before must be answered synchronously, so the common path allocates no promise.
 */
export type AuthAnswer = AuthResult | Promise<AuthResult>;

export interface Authenticator {
  /** `credential` is the request's header credential, parsed once for the whole chain (kind 'none' when there is none). */
  authenticate(credential: Credential, request: AuthRequest): AuthAnswer | null;
}

export class AuthenticatorChain {
  readonly #list: readonly Authenticator[];

  constructor(list: readonly Authenticator[]) {
    this.#list = list;
  }

  /**
   * Precedence, whatever the chain holds: an Authorization header sent twice, then a malformed
   * credential, are refused before any authenticator looks; then the first that claims the
   * credential answers; a request nobody claims has no usable credential.
   */
  authenticate(request: AuthRequest): AuthAnswer {
    const req = request.req;
    // Node keeps only the first of two Authorization headers; a second one is an ambiguity, not a
    // detail to ignore.
    if (headerCount(req.rawHeaders, 'authorization') > 1) return { ok: false, error: malformedCredential({ kind: 'malformed', reason: 'Authorization was sent more than once' }) };
    const credential = extractCredential(req.headers.authorization, req.headers['x-api-key']);
    if (credential.kind === 'malformed') return { ok: false, error: malformedCredential(credential) };
    const list = this.#list;
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!.authenticate(credential, request);
      if (r !== null) return r;
    }
    // Deny by default: a credential no authenticator claims is not accepted (the composition
    // always claims API keys and Ed25519 tokens, so in practice this is "no credential").
    return { ok: false, error: credential.kind === 'none' ? missingCredential() : unclaimedCredential() };
  }
}
