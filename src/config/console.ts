import { z } from 'zod';
import { issuerProblem } from '../core/issuer-url.js';

/**
 * `admin.console.oidc` (the rest of admin.console, with its durations, is in schema.ts): `admin.console`: the web console at /console/ on the listener that serves the admin API
 * (server/console/). Sign-in with an admin key exchanged once for a session, or, with `oidc`, through one
 * of the providers under auth.oidc (authorization code + PKCE; the provider must give a JWT access
 * token for auth.oidc's audience, which is then checked exactly as an API call's would be).
 */
export const consoleOidc = z
  .strictObject({
    /** One of auth.oidc's issuers, exactly. */
    issuer: z.string().superRefine((s, ctx) => {
      const why = issuerProblem(s);
      if (why) ctx.addIssue({ code: 'custom', message: why });
    }),
    /** The console's client at the provider (redirect URI: <console origin>/console/api/callback). */
    client_id: z.string().min(1).max(200),
    /** A confidential client's secret, read from this file (never written in the config). Without it: a public client with PKCE. */
    client_secret_file: z.string().min(1).optional(),
    /** Sent as `resource` in the authorization request, for providers that pick the access token's audience by it (RFC 8707). */
    resource: z.string().min(1).optional(),
    /** Scopes asked for besides `openid`. */
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default([]),
  })
  .optional();
