import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashApiKey, isWellFormedApiKey } from '../../src/auth/api-key.js';

/**
 * The key format is a contract with every key already issued: a change to the checksum or the
 * alphabet would lock users out. These are throwaway keys minted by an earlier build (never used
 * anywhere), kept to prove that keys issued before stay valid. They live under test/, not src/,
 * so the shipped code carries no key-shaped literal (docs/threat-model.md A5).
 */
const ISSUED_EARLIER = ['gatehouse_sWxu8zHd2yIIxNbd4mwPssuxVPjUHv9AnPKA0v8v9IN3z1tSM', 'gatehouse_Bxn21vT0102glWAS4FbhBJvMnKPYeiksfoeNc0ItWUy3OBAtZ'];

describe('API key format stays stable', () => {
  it('keys issued by earlier builds are still well-formed', () => {
    for (const k of ISSUED_EARLIER) assert.ok(isWellFormedApiKey(k), k);
  });
  it('the stored hash of a key is its SHA-256, hex', () => {
    assert.match(hashApiKey(ISSUED_EARLIER[0]!), /^[0-9a-f]{64}$/);
    assert.notEqual(hashApiKey(ISSUED_EARLIER[0]!), hashApiKey(ISSUED_EARLIER[1]!));
  });
});
