import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigSchema } from '../config/schema.js';
import { oidcChecks } from './oidc.js';

describe('doctor: auth.oidc rules', () => {
  const config = ConfigSchema.parse({
    auth: { oidc: [{ issuer: 'https://idp.example', audience: 'gatehouse', rules: [{ group: 'ml-team', policy: 'ml' }, { group: 'platform', policy: 'admin' }] }] },
  });

  it('warns about each rule whose policy does not exist, naming it', () => {
    const f = oidcChecks({ records: [], policyNames: ['ml'] }, config);
    assert.equal(f.length, 1);
    assert.equal(f[0]!.id, 'oidc.rules_missing_policy');
    assert.equal(f[0]!.severity, 'warning');
    assert.match(f[0]!.title, /1 OIDC rule names a policy that does not exist: auth\.oidc\[0\]\.rules\[1\] \(group "platform" → policy "admin", https:\/\/idp\.example\)/);
  });

  it('ok when every rule names a policy; nothing without auth.oidc or without a readable store', () => {
    assert.equal(oidcChecks({ records: [], policyNames: ['ml', 'admin'] }, config)[0]!.severity, 'ok');
    assert.deepEqual(oidcChecks({ records: [], policyNames: [] }, ConfigSchema.parse({})), []);
    assert.deepEqual(oidcChecks({ skipped: 'no store' }, config), []);
  });
});
