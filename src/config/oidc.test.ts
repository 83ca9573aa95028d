import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issuerProblem } from '../core/issuer-url.js';
import { ConfigSchema } from './schema.js';

/** auth.oidc validation: https issuers (loopback http excepted), rules required, clear messages. */

const parse = (oidc: unknown[]) => ConfigSchema.safeParse({ auth: { oidc } });
const messages = (r: ReturnType<typeof parse>) => (r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
const entry = (issuer: string, o: Record<string, unknown> = {}) => ({ issuer, audience: 'gatehouse', rules: [{ group: 'g', policy: 'p' }], ...o });

describe('auth.oidc config', () => {
  it('accepts https issuers and loopback http ones, with defaults for claims and refresh', () => {
    for (const iss of ['https://login.example.com/realms/acme', 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0', 'https://accounts.google.com', 'https://tenant.auth0.com/', 'http://127.0.0.1:8080', 'http://localhost:9000/realms/x', 'http://[::1]:1234']) {
      assert.equal(issuerProblem(iss), null, iss);
    }
    const r = parse([entry('https://a.example'), entry('http://127.0.0.1:5556/dex')]);
    assert.ok(r.success, messages(r).join('\n'));
    assert.deepEqual(r.data.auth.oidc[0]!.claims, { subject: 'sub', name: 'preferred_username', groups: 'groups' });
    assert.equal(r.data.auth.oidc[0]!.jwks_min_refresh, 30_000);
    assert.deepEqual(ConfigSchema.parse({}).auth.oidc, []);
  });

  it('refuses plain http off loopback, other schemes, credentials, queries and fragments, each saying why', () => {
    const cases: Array<[string, RegExp]> = [
      ['http://login.example.com', /must be https \(http is allowed only on loopback: http:\/\/127\.0\.0\.1:PORT, http:\/\/localhost:PORT, http:\/\/\[::1\]:PORT\), got login\.example\.com/],
      ['http://10.0.0.1:8080', /must be https/],
      ['http://127.0.0.1.nip.io', /must be https/],
      ['ftp://login.example.com', /must be an https URL/],
      ['https://user:pw@login.example.com', /no credentials, query or fragment/],
      ['https://login.example.com/?a=1', /no credentials, query or fragment/],
      ['https://login.example.com/#x', /no credentials, query or fragment/],
      ['login.example.com', /is not a URL/],
    ];
    for (const [iss, why] of cases) {
      const m = messages(parse([entry(iss)]));
      assert.equal(m.length, 1, `${iss}: ${m.join('; ')}`);
      assert.match(m[0]!, /^auth\.oidc\.0\.issuer: /);
      assert.match(m[0]!, why, iss);
    }
  });

  it('requires an audience and at least one rule; refuses unknown keys, duplicate issuers, bad refresh intervals', () => {
    assert.match(messages(parse([{ issuer: 'https://a.example', rules: [{ group: 'g', policy: 'p' }] }])).join('\n'), /auth\.oidc\.0\.audience/);
    assert.match(messages(parse([entry('https://a.example', { rules: [] })])).join('\n'), /needs at least one rule/);
    assert.match(messages(parse([entry('https://a.example', { scopes: ['x'] })])).join('\n'), /scopes/);
    assert.match(messages(parse([entry('https://a.example', { rules: [{ group: 'g', policy: 'p', scopes: 'x' }] })])).join('\n'), /scopes/);
    assert.match(messages(parse([entry('https://a.example'), entry('https://a.example')])).join('\n'), /auth\.oidc\.1\.issuer: https:\/\/a\.example is listed twice/);
    assert.match(messages(parse([entry('https://a.example', { jwks_min_refresh: '10ms' })])).join('\n'), /between 1s and 1h/);
    assert.match(messages(parse([entry('https://a.example', { jwks_min_refresh: 30 })])).join('\n'), /has no unit/);
  });
});
