import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/**
 * A minimal OpenID issuer on loopback for the benchmarks: a discovery document and a key set
 * (one ES256 key), and tokens signed with it. Enough for Gatehouse's JWT authenticator to
 * discover, fetch and verify exactly as it would against a real provider; the tests use a real
 * one (test/helpers/oidc.ts).
 */
export interface BenchIssuer {
  issuer: string;
  token(o: { sub: string; groups: string[]; audience?: string; ttlS?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startBenchIssuer(): Promise<BenchIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' }] });
  let issuer = '';
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(jwks);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    token: (o) =>
      new SignJWT({ groups: o.groups })
        .setProtectedHeader({ alg: 'ES256', kid: 'bench-1', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(o.sub)
        .setAudience(o.audience ?? 'gatehouse')
        .setIssuedAt()
        .setExpirationTime(`${o.ttlS ?? 3600}s`)
        .sign(privateKey),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
