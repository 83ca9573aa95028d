import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type JWTHeaderParameters, type CryptoKey } from 'jose';
import Provider from 'oidc-provider';

/**
 * A real OpenID provider (the certified `oidc-provider` package) on 127.0.0.1 with an ephemeral
 * port, for end-to-end tests of `auth.oidc`. Each client is one identity: the client-credentials
 * grant gives it a JWT access token (ES256) whose `sub` is the client id, with the groups and name
 * the test chose and the audience of its resource server. `rotate()` switches the provider to a
 * new signing key (new kid) without restarting it.
 */

export interface TestClient {
  id: string;
  groups: string[] | string;
  name?: string;
  /** Default "gatehouse". */
  audience?: string;
}

export interface TestProvider {
  issuer: string;
  /** The current signing key's id. */
  kid: string;
  token(clientId: string): Promise<string>;
  /** Signs any header and payload with the provider's current key (for claims a real flow would not produce). */
  sign(payload: JWTPayload, header?: Partial<JWTHeaderParameters>): Promise<string>;
  publicJwk(): JWK;
  rotate(): Promise<void>;
  /**
   * Registers a public client for the authorization code flow with PKCE (the console's sign-in),
   * with the provider's own login form (devInteractions: any password; the login name is a test
   * client's id, whose groups and name the tokens carry). Consent is given by default.
   */
  addCodeClient(clientId: string, redirectUri: string): void;
  /** Requests the provider received, by path. */
  hits: string[];
  close(): Promise<void>;
}

const SECRET = 'test-client-secret-0123456789abcdef';

async function newKey(kid: string): Promise<{ priv: CryptoKey; jwk: JWK; pub: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { priv: privateKey, jwk: { ...(await exportJWK(privateKey)), kid, use: 'sig', alg: 'ES256' }, pub: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}

export async function startProvider(clients: TestClient[]): Promise<TestProvider> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const byId = new Map(clients.map((c) => [c.id, c]));
  let n = 0;
  let key = await newKey(`key-${++n}`);
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  const hits: string[] = [];
  const codeClients: Array<{ client_id: string; redirect_uris: string[]; grant_types: string[]; response_types: string[]; token_endpoint_auth_method: string; id_token_signed_response_alg: string }> = [];

  const build = () => {
    const provider = new Provider(issuer, {
      clients: [
        ...clients.map((c) => ({ client_id: c.id, client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post', id_token_signed_response_alg: 'ES256' })),
        ...codeClients,
      ],
      jwks: { keys: [key.jwk] },
      findAccount: (_ctx: unknown, id: string) => {
        const c = byId.get(id);
        return c ? { accountId: id, claims: () => ({ sub: id, groups: c.groups, ...(c.name ? { preferred_username: c.name } : {}) }) } : undefined;
      },
      // The console's sign-in asks for the API's scope on the gateway's resource: granted without a consent page.
      loadExistingGrant: async (ctx: any) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId) return undefined;
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
        grant.addOIDCScope('openid');
        grant.addResourceScope('urn:gatehouse', 'api');
        await grant.save();
        return grant;
      },
      features: {
        devInteractions: { enabled: codeClients.length > 0 },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => 'urn:gatehouse',
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, _resource: string, client: { clientId: string }) => ({
            scope: 'api', audience: byId.get(client.clientId)?.audience ?? 'gatehouse', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } },
          }),
        },
      },
      ttl: { ClientCredentials: 600 },
      extraTokenClaims: (_ctx: unknown, token: { clientId: string; accountId?: string }) => {
        const c = byId.get(token.accountId ?? token.clientId);
        return c ? { groups: c.groups, ...(c.name ? { preferred_username: c.name } : {}) } : {};
      },
    });
    handler = provider.callback();
  };
  build();
  server.on('request', (req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });

  return {
    issuer,
    get kid() {
      return key.jwk.kid!;
    },
    hits,
    async token(clientId) {
      const r = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: SECRET, scope: 'api', resource: 'urn:gatehouse' }),
      });
      const j = (await r.json()) as { access_token?: string };
      if (!j.access_token) throw new Error(`no token for ${clientId}: ${JSON.stringify(j)}`);
      return j.access_token;
    },
    sign(payload, header = {}) {
      return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: key.jwk.kid!, typ: 'at+jwt', ...header }).sign(key.priv);
    },
    publicJwk: () => key.pub,
    addCodeClient(clientId, redirectUri) {
      codeClients.push({ client_id: clientId, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'ES256' });
      build();
    },
    async rotate() {
      key = await newKey(`key-${++n}`);
      build();
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** An HTTP server that only counts what reaches it: where a forged token's jku/x5u point. */
export async function startTrap(): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const state = { hits: 0 };
  const server = createServer((_req, res) => {
    state.hits++;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get hits() {
      return state.hits;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
