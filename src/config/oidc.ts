import { z } from 'zod';
import { issuerProblem } from '../core/issuer-url.js';

/**
 * `auth.oidc`: OpenID providers whose JWT bearer tokens Gatehouse accepts (auth/oidc/). Kept out
 * of schema.ts so the rules about issuers live in one place. Every key is required or has a safe
 * default; unknown keys are errors, as everywhere in the config.
 */

const issuerUrl = z.string().superRefine((s, ctx) => {
  const why = issuerProblem(s);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});

const claimName = z.string().min(1).max(200);

export const OidcRule = z.strictObject({
  /** A value of the groups claim. */
  group: z.string().min(1),
  /** The name of a policy (`gatehouse policies`). */
  policy: z.string().min(1),
});

/** `duration` is schema.ts's ("30s" → ms), passed in to keep the import one-way. */
const oidcIssuer = (duration: (def: string) => z.ZodType<number, unknown>) => z.strictObject({
  /** The provider's issuer URL, exactly as its tokens' `iss` (discovery at /.well-known/openid-configuration under it). */
  issuer: issuerUrl,
  /** A token's `aud` must contain this. */
  audience: z.string().min(1),
  /** Which claims name the identity and its groups. */
  claims: z
    .strictObject({
      subject: claimName.default('sub'),
      name: claimName.default('preferred_username'),
      groups: claimName.default('groups'),
    })
    .prefault({}),
  /** Groups → policies, first match wins. */
  rules: z.array(OidcRule).min(1, { message: 'needs at least one rule ({ group, policy }): without one, nobody from this issuer could be given any access' }),
  /**
   * A token naming a key id the cached key set lacks makes Gatehouse fetch the key set again (key
   * rollover), at most once per this interval per issuer, so made-up key ids cannot make it hammer the provider.
   */
  jwks_min_refresh: duration('30s').refine((ms) => ms >= 1000 && ms <= 3_600_000, { message: 'must be between 1s and 1h' }),
});

/** Several issuers; each may appear once (its `iss` picks its entry). */
export const oidcList = (duration: (def: string) => z.ZodType<number, unknown>) => z
  .array(oidcIssuer(duration))
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((o, i) => {
      if (seen.has(o.issuer)) ctx.addIssue({ code: 'custom', path: [i, 'issuer'], message: `${o.issuer} is listed twice; list each issuer once (its rules together)` });
      seen.add(o.issuer);
    });
  })
  // prefault, not default: zod leaves the default out of the JSON Schema when the items transform (durations).
  .prefault([]);
