/**
 * The one catalogue of errors Gatehouse answers with. Every refusal is a GatewayError built from a
 * code here, so codes stay stable (scripts and dashboards match on them) and a test can check the
 * catalogue as a whole. The message is written for the person at the client: it says what went
 * wrong and what to do, and never carries a key, a stack trace or upstream internals.
 */

/** Coarse error class; each dialect (src/dialects/) maps it to its own `type` vocabulary. */
export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'method_not_allowed'
  | 'too_large'
  | 'rate_limit'
  | 'overloaded'
  | 'upstream'
  | 'timeout'
  | 'internal';

interface Def {
  status: number;
  kind: ErrorKind;
}

export const ERRORS = {
  GW_ERR_ROUTE_NOT_FOUND: { status: 404, kind: 'not_found' },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, kind: 'method_not_allowed' },
  // GET /auth/verify (forward-auth): the proxy's X-Forwarded-Method/-Uri describe no request that
  // can be checked (absent, repeated, not origin form, dot segments, encoded slashes; server/stages/verify.ts).
  GW_ERR_FORWARD_AUTH_INVALID: { status: 400, kind: 'invalid_request' },
  // GET /auth/verify for a model-management route: its safety rules read the body, which the proxy
  // sends to Ollama without Gatehouse; so it is never allowed through a proxy (server/stages/verify.ts).
  GW_ERR_FORWARD_AUTH_MANAGE: { status: 403, kind: 'permission' },
  GW_ERR_HOST_MALFORMED: { status: 400, kind: 'invalid_request' },
  GW_ERR_HOST_REJECTED: { status: 403, kind: 'permission' },
  GW_ERR_ORIGIN_REJECTED: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_MISSING: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_MALFORMED: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_INVALID: { status: 401, kind: 'authentication' },
  // The console (server/console/): no session, or one that has ended; a change sent without its CSRF token.
  GW_ERR_CONSOLE_SESSION: { status: 401, kind: 'authentication' },
  GW_ERR_CONSOLE_CSRF: { status: 403, kind: 'permission' },
  // The console's sign-in: a key without an admin scope, or a provider's answer that cannot be used.
  GW_ERR_CONSOLE_SIGN_IN: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_REVOKED: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_EXPIRED: { status: 401, kind: 'authentication' },
  // The previous secret of a rotated key, after its overlap ended (auth/authenticate.ts).
  GW_ERR_AUTH_ROTATED: { status: 401, kind: 'authentication' },
  // A personal key whose owner's policy no rule of auth.oidc gives any more (auth/personal-keys.ts).
  GW_ERR_AUTH_PERSONAL_KEY_DISABLED: { status: 401, kind: 'authentication' },
  // A bearer token shaped like a JWT: no authenticator for those is configured (auth/jwt-refusal.ts).
  GW_ERR_AUTH_JWT_UNSUPPORTED: { status: 401, kind: 'authentication' },
  // JWT bearer tokens from the OpenID providers in auth.oidc (auth/oidc/). 401 while the token is
  // not proven good; 403 once it is and the identity has no access; 503 when the provider's keys
  // cannot be had (not the client's fault, and not counted as a failed authentication).
  GW_ERR_AUTH_JWT_MALFORMED: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_JWT_ALG: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_JWT_ISSUER: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_JWT_SIGNATURE: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_JWT_EXPIRED: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_JWT_NOT_YET_VALID: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_JWT_AUDIENCE: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_JWT_CLAIMS: { status: 401, kind: 'authentication' },
  GW_ERR_AUTH_JWT_NO_RULE: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_JWT_POLICY_MISSING: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_JWT_PROVIDER: { status: 503, kind: 'overloaded' },
  GW_ERR_AUTH_SSH_UNKNOWN_KEY: { status: 403, kind: 'permission' },
  // Ed25519 (ollama CLI) refusals are 403, not 401: the CLI replaces the text of any 401 with
  // "You need to be signed in to Ollama", hiding what the user must do (docs/ollama-api-notes.md §3).
  GW_ERR_AUTH_SSH_MALFORMED: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_SSH_BAD_SIGNATURE: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_SSH_CLOCK: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_SSH_REPLAY: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_SSH_KEY_TYPE: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_SSH_REVOKED: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_SSH_EXPIRED: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_SSH_DISABLED: { status: 403, kind: 'permission' },
  GW_ERR_AUTH_TOO_MANY_FAILURES: { status: 429, kind: 'rate_limit' },
  GW_ERR_SCOPE_MISSING: { status: 403, kind: 'permission' },
  GW_ERR_ENDPOINT_NOT_ALLOWED: { status: 403, kind: 'permission' },
  GW_ERR_ROUTE_DISABLED: { status: 403, kind: 'permission' },
  GW_ERR_MODEL_NOT_FOUND: { status: 404, kind: 'not_found' },
  // A model off the key's allowlist. Clients get Ollama's own "not found" for that route; the
  // code is for operators (audit, logs, metrics), so "not allowed" never reads as "missing".
  GW_ERR_MODEL_NOT_ALLOWED: { status: 404, kind: 'not_found' },
  GW_ERR_BODY_MISSING: { status: 400, kind: 'invalid_request' },
  GW_ERR_BODY_INVALID_JSON: { status: 400, kind: 'invalid_request' },
  GW_ERR_BODY_INVALID: { status: 400, kind: 'invalid_request' },
  GW_ERR_BODY_AMBIGUOUS_FIELD: { status: 400, kind: 'invalid_request' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, kind: 'too_large' },
  GW_ERR_BODY_ENCODING: { status: 415, kind: 'invalid_request' },
  GW_ERR_BODY_TIMEOUT: { status: 408, kind: 'invalid_request' },
  GW_ERR_MODEL_REQUIRED: { status: 400, kind: 'invalid_request' },
  GW_ERR_MODEL_NAME_INVALID: { status: 400, kind: 'invalid_request' },
  GW_ERR_CLAMP_EXCEEDED: { status: 400, kind: 'invalid_request' },
  GW_ERR_OPTION_FORBIDDEN: { status: 403, kind: 'permission' },
  GW_ERR_MANAGE_REFUSED: { status: 400, kind: 'invalid_request' },
  // A create naming a blob its key did not upload through Gatehouse (server/blob-registry.ts).
  GW_ERR_MANAGE_BLOB_NOT_UPLOADED: { status: 403, kind: 'permission' },
  GW_ERR_RATE_LIMITED: { status: 429, kind: 'rate_limit' },
  GW_ERR_TOKENS_EXHAUSTED: { status: 429, kind: 'rate_limit' },
  GW_ERR_CONCURRENCY: { status: 429, kind: 'rate_limit' },
  GW_ERR_QUEUE_FULL: { status: 503, kind: 'overloaded' },
  GW_ERR_LIMITS_UNAVAILABLE: { status: 503, kind: 'overloaded' },
  GW_ERR_SHUTTING_DOWN: { status: 503, kind: 'overloaded' },
  GW_ERR_STORE_UNAVAILABLE: { status: 503, kind: 'overloaded' },
  GW_ERR_UPSTREAM_UNAVAILABLE: { status: 502, kind: 'upstream' },
  /** upstreams: every node that has the model is down or has its breaker open. */
  GW_ERR_NODE_UNAVAILABLE: { status: 503, kind: 'overloaded' },
  /** X-Gatehouse-Node names a node that is not in upstreams. */
  GW_ERR_NODE_UNKNOWN: { status: 400, kind: 'invalid_request' },
  /** A management call sent to several nodes failed on some of them. */
  GW_ERR_NODES_PARTIAL: { status: 502, kind: 'upstream' },
  GW_ERR_UPSTREAM_TIMEOUT: { status: 504, kind: 'timeout' },
  GW_ERR_UPSTREAM_RESET: { status: 502, kind: 'upstream' },
  GW_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, kind: 'upstream' },
  // Admin API (/admin/v1, src/admin/): a body that fails its schema, a resource that does not
  // exist, a change that conflicts with what is stored (a name taken, a policy in use, a key that cannot rotate).
  GW_ERR_ADMIN_INVALID: { status: 400, kind: 'invalid_request' },
  GW_ERR_ADMIN_NOT_FOUND: { status: 404, kind: 'not_found' },
  GW_ERR_ADMIN_CONFLICT: { status: 409, kind: 'invalid_request' },
  GW_ERR_INTERNAL: { status: 500, kind: 'internal' },
} as const satisfies Record<string, Def>;

export type ErrorCode = keyof typeof ERRORS;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly kind: ErrorKind;
  /** Extra response headers (Retry-After, WWW-Authenticate, RateLimit-*). */
  readonly headers: Record<string, string> | undefined;
  /** Extra top-level fields for the Ollama error body (e.g. `signin_url` for the CLI). */
  readonly extra: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; headers?: Record<string, string>; extra?: Record<string, string> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    const def: Def = ERRORS[code];
    this.name = 'GatewayError';
    this.code = code;
    this.status = def.status;
    this.kind = def.kind;
    this.headers = opts.headers;
    this.extra = opts.extra;
  }
}

/** Expected refusals do not need a stack; capturing one costs more than the rest of the refusal. */
export function refuse(
  code: ErrorCode,
  message: string,
  opts?: { headers?: Record<string, string>; extra?: Record<string, string>; cause?: unknown },
): GatewayError {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new GatewayError(code, message, opts);
  } finally {
    Error.stackTraceLimit = saved;
  }
}
