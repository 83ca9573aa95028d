import { jwtVerify, type JWTPayload } from 'jose';
import { refuse, type GatewayError } from '../../core/errors.js';
import { ProviderUnavailable, type IssuerKeys } from './issuer-keys.js';

/**
 * The cryptographic check of a token not seen before, by jose against the issuer's key set only.
 * Every claim that makes a token good is required here: `iss` exact, `aud` containing the
 * configured audience, `exp`; `nbf` and `iat` must not be in the future. Each failure has its own
 * code and a message saying what to do; none quotes the token.
 */

/** Asymmetric only: an HMAC (HS*) would let anyone holding the public key sign; `none` signs nothing. */
export const ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
/** Clock difference tolerated between Gatehouse and the provider, either way (README). */
export const CLOCK_SKEW_S = 60;

export type Verified = { ok: true; claims: JWTPayload } | { ok: false; error: GatewayError };

export async function verifyJwt(token: string, keys: IssuerKeys, audience: string, now: number): Promise<Verified> {
  let getKey;
  try {
    getKey = await keys.keys();
  } catch (err) {
    return { ok: false, error: providerDown(keys.issuer, err) };
  }
  try {
    const { payload } = await jwtVerify(token, getKey, {
      issuer: keys.issuer,
      audience,
      algorithms: [...ALGORITHMS],
      clockTolerance: CLOCK_SKEW_S,
      requiredClaims: ['exp'],
      currentDate: new Date(now),
    });
    if (typeof payload.iat === 'number' && payload.iat > now / 1000 + CLOCK_SKEW_S) {
      return { ok: false, error: refuse('GW_ERR_AUTH_JWT_NOT_YET_VALID', `this token was issued in the future (iat ${new Date(payload.iat * 1000).toISOString()}); check the clocks of the identity provider and the gateway`) };
    }
    return { ok: true, claims: payload };
  } catch (err) {
    return { ok: false, error: refusalFor(err, keys.issuer, audience) };
  }
}

function providerDown(issuer: string, err: unknown): GatewayError {
  const why = err instanceof ProviderUnavailable ? err.message : 'its keys could not be fetched';
  return refuse('GW_ERR_AUTH_JWT_PROVIDER', `the identity provider ${issuer} cannot be reached to check this token (${why}); try again shortly, or use a Gatehouse API key`, { headers: { 'retry-after': '5' } });
}

function refusalFor(err: unknown, issuer: string, audience: string): GatewayError {
  const e = err as { code?: string; claim?: string; reason?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return refuse('GW_ERR_AUTH_JWT_EXPIRED', 'this token has expired; sign in again to get a new one');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'nbf' || e.claim === 'iat') return refuse('GW_ERR_AUTH_JWT_NOT_YET_VALID', `this token is not valid yet (${e.claim} is in the future); check the clocks of the identity provider and the gateway`);
      if (e.claim === 'aud') return refuse('GW_ERR_AUTH_JWT_AUDIENCE', `this token is not meant for this gateway: its audience (aud) must include "${audience}"; ask the identity provider for a token for that audience`);
      if (e.claim === 'iss') return refuse('GW_ERR_AUTH_JWT_ISSUER', `this token's issuer is not ${issuer}`);
      if (e.claim === 'exp') return refuse('GW_ERR_AUTH_JWT_CLAIMS', 'this token has no expiry (exp); Gatehouse accepts only tokens that expire');
      return refuse('GW_ERR_AUTH_JWT_CLAIMS', `this token's ${e.claim ?? 'claims'} claim is not acceptable (${e.reason ?? 'check failed'})`);
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return refuse('GW_ERR_AUTH_JWT_ALG', `this token's signing algorithm is not accepted; accepted: ${ALGORITHMS.join(', ')}`);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return refuse('GW_ERR_AUTH_JWT_SIGNATURE', `this token's signature does not verify with the signing keys ${issuer} publishes (unknown key id, or a forged or altered token); sign in again`);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return refuse('GW_ERR_AUTH_JWT_MALFORMED', 'this token is not a well-formed signed JWT (JWS compact form)');
    default:
      // Anything else comes from fetching or reading the key set.
      return providerDown(issuer, err);
  }
}
