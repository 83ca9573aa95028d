import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { refuse, type GatewayError } from '../../core/errors.js';
import type { ResolvedPolicy } from '../policy-cache.js';
import type { ResolvedPrincipal } from '../principal.js';
import { quote } from './shape.js';

/**
 * A verified token → the identity it names → the principal, whose grants come from the policy the
 * first matching rule names (no merging of several rules: the order of the rules is the order of
 * precedence, as the operator wrote it).
 */

export interface IssuerRules {
  readonly issuer: string;
  readonly claims: { readonly subject: string; readonly name: string; readonly groups: string };
  readonly rules: readonly { readonly group: string; readonly policy: string }[];
}

export interface Identity {
  readonly issuer: string;
  readonly subject: string;
  readonly name: string;
  readonly groups: readonly string[];
  /** `exp` in ms. */
  readonly exp: number;
}

const MAX_NAME = 120;

export function identityOf(claims: JWTPayload, cfg: IssuerRules): Identity | GatewayError {
  const sub = claims[cfg.claims.subject];
  if (typeof sub !== 'string' || sub === '' || sub.length > 255) {
    return refuse('GW_ERR_AUTH_JWT_CLAIMS', `this token has no usable subject: claim "${cfg.claims.subject}" must be a non-empty string; ask the operator to check auth.oidc[].claims.subject for ${cfg.issuer}`);
  }
  const n = claims[cfg.claims.name];
  const name = typeof n === 'string' && n !== '' ? clean(n) : sub;
  const g = claims[cfg.claims.groups];
  const groups = typeof g === 'string' ? [g] : Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : [];
  return { issuer: cfg.issuer, subject: sub, name, groups, exp: (claims.exp as number) * 1000 };
}

/** The policy name the first matching rule gives, or the refusal saying what is missing. */
export function ruleFor(id: Identity, cfg: IssuerRules): { policy: string; group: string } | GatewayError {
  for (const r of cfg.rules) if (id.groups.includes(r.group)) return r;
  const has = id.groups.length ? `has groups [${id.groups.slice(0, 20).map((x) => quote(x, 60)).join(', ')}]` : `has no groups (claim "${cfg.claims.groups}" is absent or not a list of strings)`;
  return refuse('GW_ERR_AUTH_JWT_NO_RULE', `your identity (sub ${quote(id.subject)} from issuer ${id.issuer}) ${has}; none maps to a policy on this gateway: ask the operator to add a rule for one of your groups under auth.oidc[].rules`);
}

export function missingPolicy(id: Identity, rule: { policy: string; group: string }): GatewayError {
  return refuse('GW_ERR_AUTH_JWT_POLICY_MISSING', `your group ${quote(rule.group)} maps to policy ${quote(rule.policy)}, which does not exist on this gateway (identity sub ${quote(id.subject)} from issuer ${id.issuer}): ask the operator to create it (\`gatehouse policies create ${rule.policy}\`) or fix the rule under auth.oidc[].rules`);
}

/**
 * The principal id is stable per identity and opaque: `oidc:` and 22 base64url characters of
 * SHA-256(issuer NUL subject), so limits and usage follow the person across tokens and the same
 * subject at two issuers are two principals. The name carries the subject and issuer in the clear
 * for audit and usage, where the id alone would say nothing.
 */
export function principalId(issuer: string, subject: string): string {
  return `oidc:${createHash('sha256').update(`${issuer}\0${subject}`).digest('base64url').slice(0, 22)}`;
}

export function principalName(id: Identity): string {
  return id.name === id.subject ? `${clean(id.subject)} @ ${id.issuer}` : `${id.name} (${clean(id.subject)} @ ${id.issuer})`;
}

/** `validUntil`: the token's exp plus the tolerated clock skew, in ms. */
export function principalOf(id: Identity, policy: ResolvedPolicy, validUntil: number): ResolvedPrincipal {
  return identityPrincipal(id.issuer, id.subject, principalName(id), policy, validUntil);
}

/** The principal of an identity whose name is already shown (principalName): also a console session's (server/console/). */
export function identityPrincipal(issuer: string, subject: string, name: string, policy: ResolvedPolicy, validUntil: number): ResolvedPrincipal {
  return Object.freeze({
    id: principalId(issuer, subject),
    name,
    kind: 'oidc' as const,
    expiresAt: validUntil,
    scopes: policy.scopes,
    models: policy.models,
    limits: policy.limits,
    clamps: policy.clamps,
    allowlist: policy.allowlist,
    revokedAt: null,
    policyId: policy.id,
    issuer,
    subject,
  });
}

function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return t.length > MAX_NAME ? `${t.slice(0, MAX_NAME)}…` : t;
}
