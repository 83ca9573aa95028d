import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/**
 * A real OpenID provider (`oidc-provider`) with a login page, for the console's browser tests:
 * the authorization code flow with PKCE for a public client `console` whose redirect URI is the
 * loopback `http://127.0.0.1/console/api/callback` (any port, RFC 8252 §7.3, since the gateway's
 * port is known only once it runs). Any login name signs in; its groups come from `groups`. Access
 * tokens are JWTs (ES256) for the audience `gatehouse` (resource `urn:gatehouse`).
 */

export interface LoginProvider {
  issuer: string;
  clientId: string;
  close(): Promise<void>;
}

export async function startLoginProvider(groups: Record<string, string[]>): Promise<LoginProvider> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'console-test', use: 'sig', alg: 'ES256' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'console', application_type: 'native', token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/console/api/callback'], grant_types: ['authorization_code'], response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
    }],
    jwks: { keys: [jwk] },
    pkce: { required: () => true },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub, preferred_username: sub, groups: groups[sub] ?? [] }) }),
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups'] },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:gatehouse',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'api', audience: 'gatehouse', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } } }),
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) => (token.accountId ? { groups: groups[token.accountId] ?? [], preferred_username: token.accountId } : {}),
  });
  const handler = provider.callback();
  server.on('request', (req, res) => handler(req, res));
  return {
    issuer,
    clientId: 'console',
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
