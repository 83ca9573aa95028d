/** Shared primitive types. No I/O, no imports: every other folder may depend on this file. */

/**
 * What a principal may do. A route needs exactly one scope; public routes need none. `admin`: the
 * admin API (/admin/v1) and nothing else (a key that should also run models needs those scopes
 * too); never a default. `admin:read` (the console's viewer) reads everything the admin API shows;
 * `admin:keys` (operator) also creates, changes, rotates and revokes keys; `admin` does all of it and
 * changes policies: each includes the ones before (scopeGrants). `keys:self`: a signed-in identity
 * may make its own personal keys (/admin/v1/me/keys).
 */
export type Scope = 'inference' | 'models:read' | 'models:manage' | 'cloud' | 'metrics' | 'admin:read' | 'admin:keys' | 'admin' | 'keys:self';
export const ALL_SCOPES: readonly Scope[] = ['inference', 'models:read', 'models:manage', 'cloud', 'metrics', 'admin:read', 'admin:keys', 'admin', 'keys:self'];

/** The admin scopes, weakest first: each grants what the ones before it grant. */
const ADMIN_LADDER: readonly Scope[] = ['admin:read', 'admin:keys', 'admin'];

/** Whether `scopes` grants `needed`: held, or (admin scopes) implied by a stronger one held. */
export function scopeGrants(scopes: ReadonlySet<Scope>, needed: Scope): boolean {
  if (scopes.has(needed)) return true;
  const i = ADMIN_LADDER.indexOf(needed);
  if (i === -1) return false;
  for (let j = i + 1; j < ADMIN_LADDER.length; j++) if (scopes.has(ADMIN_LADDER[j]!)) return true;
  return false;
}
export const DEFAULT_SCOPES: readonly Scope[] = ['inference', 'models:read'];

/** PATCH: admin API updates only (/admin/v1); no Ollama route takes it. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'DELETE' | 'PATCH';

/** Per-principal limits. `null` means "no limit of this kind". */
export interface PrincipalLimits {
  rpm: number | null;
  tpm: number | null;
  tpd: number | null;
  concurrency: number | null;
}

/** Per-principal overrides of the global resource clamps (`null` = use the global value). */
export interface PrincipalClamps {
  max_num_ctx?: number | null;
  max_num_predict?: number | null;
  /** Milliseconds. */
  max_keep_alive?: number | null;
  max_images?: number | null;
  max_embed_inputs?: number | null;
  /** May set options that force model reloads (num_gpu, main_gpu, num_batch, num_thread, use_mmap). */
  allow_runner_options?: boolean;
}

/**
 * client_cert: a TLS client certificate (mTLS), matched by SHA-256 fingerprint or by subject.
 * oidc: an identity signed in at an OpenID provider (a JWT bearer token; never stored as a key).
 */
export type PrincipalKind = 'api_key' | 'ssh_key' | 'client_cert' | 'oidc';

/** An authenticated caller, as the request path sees it (never holds key material). */
export interface Principal {
  id: string;
  name: string;
  kind: PrincipalKind;
  scopes: ReadonlySet<Scope>;
  /** Model allowlist globs as stored; `null` = every model. */
  models: readonly string[] | null;
  expiresAt: number | null;
  limits: PrincipalLimits;
  clamps: PrincipalClamps;
  /** SSH keys only: `SHA256:...` fingerprint. */
  fingerprint?: string;
  /** SSH keys from an authorized_keys file: endpoint patterns (`*` wildcards). */
  endpoints?: readonly string[];
  /** OIDC identities only: the token's `iss` and the subject claim, which together name the identity. */
  issuer?: string;
  subject?: string;
}

export interface TokenUsage {
  prompt: number;
  completion: number;
  /** True when counts were estimated (no final usage record arrived). */
  estimated: boolean;
}
