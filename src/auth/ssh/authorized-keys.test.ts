import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, generateRsaKeyPair, sshKeygenFingerprint } from '../../../test/helpers/ollama-signer.js';
import { endpointAllowed, matchEndpointPattern, parseAuthorizedKeys } from './authorized-keys.js';

const DOC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILzt5urQzUIGmii92Tyt+ZGyWlKhnZd7yqwUr0cercQS';
const DOC_FINGERPRINT = 'SHA256:aTafwUHOFq28MooKQcdAyrHii+pg/pibZ26G3pSU/O0';

function pubKeyOf(path: string): string {
  return readFileSync(path, 'utf8').split(' ').slice(0, 2).join(' ');
}

describe('parseAuthorizedKeys', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-ak-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses good lines and skips comments and blank lines', () => {
    const a = generateKeyPair(dir, 'ed25519', 'alice');
    const b = generateKeyPair(dir, 'ed25519', 'bob');
    const text = [
      '# gateway CLI users',
      '',
      `${pubKeyOf(a.publicKeyPath)} alice /api/tags,/api/chat`,
      '   # indented comment',
      '\t',
      `${pubKeyOf(b.publicKeyPath)}\tbob\t*`,
      `${DOC_KEY} doc-example /api/*,/v1/models/*:latest`,
    ].join('\r\n');
    const { entries, errors } = parseAuthorizedKeys(text);
    assert.deepEqual(errors, []);
    assert.equal(entries.length, 3);
    assert.deepEqual(entries.map((e) => [e.name, e.line, e.endpoints]), [
      ['alice', 3, ['/api/tags', '/api/chat']],
      ['bob', 6, ['*']],
      ['doc-example', 7, ['/api/*', '/v1/models/*:latest']],
    ]);
    assert.equal(entries[0]!.fingerprint, sshKeygenFingerprint(a.publicKeyPath));
    assert.equal(entries[1]!.fingerprint, sshKeygenFingerprint(b.publicKeyPath));
    assert.equal(entries[2]!.fingerprint, DOC_FINGERPRINT);
    assert.equal(entries[2]!.keyLine, DOC_KEY);
    assert.equal(entries[0]!.keyLine, pubKeyOf(a.publicKeyPath));
    assert.equal(entries[0]!.rawKey.length, 32);
  });

  it('reports each bad line with its number and keeps the good ones', () => {
    const rsa = generateRsaKeyPair(dir);
    const text = [
      `${DOC_KEY} ok *`, // 1
      `${pubKeyOf(rsa.publicKeyPath)} old-laptop *`, // 2
      'ssh-ed25519', // 3
      `${DOC_KEY.slice(0, -2)} broken *`, // 4
      `${DOC_KEY}`, // 5
      `${DOC_KEY} name-only`, // 6
      `${DOC_KEY} dup *`, // 7: same key as line 1
      `${DOC_KEY.replace('ILzt', 'ILzu')} spaced /api/tags, /api/chat`, // 8
      `${DOC_KEY.replace('ILzt', 'ILzv')} trailing-comma /api/tags,`, // 9
      `${DOC_KEY.replace('ILzt', 'ILzw')} relative api/tags`, // 10
      `${DOC_KEY.replace('ILzt', 'ILzx')} query /api/tags?x=1`, // 11
      `command="x" ${DOC_KEY} opts *`, // 12
      `${DOC_KEY.replace('ILzt', 'ILzy')} evil\u001b[2J *`, // 13
    ].join('\n');
    const { entries, errors } = parseAuthorizedKeys(text);
    assert.deepEqual(entries.map((e) => e.name), ['ok']);
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    const reason = (line: number): string => errors.find((e) => e.line === line)!.reason;
    assert.equal(reason(2), 'key type ssh-rsa is not supported; the ollama CLI uses ssh-ed25519 keys');
    assert.match(reason(3), /not followed by base64/);
    assert.match(reason(4), /not valid base64/);
    assert.match(reason(5), /missing name and endpoints/);
    assert.match(reason(6), /missing endpoints/);
    assert.equal(reason(7), `key ${DOC_FINGERPRINT} is already listed on line 1`);
    assert.match(reason(8), /unexpected text after endpoints/);
    assert.match(reason(9), /empty endpoint/);
    assert.match(reason(10), /must start with \/ or \*/);
    assert.match(reason(11), /query/);
    assert.match(reason(12), /key options are not supported/);
    assert.match(reason(13), /control characters/);
  });

  it('returns nothing for an empty file', () => {
    assert.deepEqual(parseAuthorizedKeys(''), { entries: [], errors: [] });
  });
});

describe('endpointAllowed', () => {
  it('matches exact paths exactly', () => {
    const eps = ['/api/tags', '/api/chat'];
    assert.equal(endpointAllowed(eps, '/api/tags'), true);
    assert.equal(endpointAllowed(eps, '/api/chat'), true);
    for (const p of ['/api/tags/', '/api/tag', '/api/tagsx', '/API/tags', '/api/chat?x', '', '/']) {
      assert.equal(endpointAllowed(eps, p), false, p);
    }
  });

  it('* alone allows everything', () => {
    for (const p of ['', '/', '/api/chat', '/v1/models/llama3:latest']) assert.equal(endpointAllowed(['*'], p), true);
  });

  it('an empty list allows nothing', () => assert.equal(endpointAllowed([], '/api/tags'), false));

  const cases: Array<[string, string, boolean]> = [
    ['/api/*', '/api/', true],
    ['/api/*', '/api/chat', true],
    ['/api/*', '/api/blobs/sha256:ab', true],
    ['/api/*', '/api', false],
    ['/api/*', '/v1/api/chat', false],
    ['*/chat', '/api/chat', true],
    ['*/chat', '/api/chat/x', false],
    ['/v1/models/*:latest', '/v1/models/llama3:latest', true],
    ['/v1/models/*:latest', '/v1/models/llama3:8b', false],
    ['/a*b*c', '/abc', true],
    ['/a*b*c', '/aXbYc', true],
    ['/a*b*c', '/aXbYcZ', false],
    ['/a*b*c', '/acb', false],
    ['/a*bc', '/abc', true],
    ['/a*a', '/a', false], // the two literal a's must not overlap
    ['/a*a', '/aa', true],
    ['**', '/x', true],
    ['/api/**/x', '/api/x', false],
    ['/api/**/x', '/api//x', true],
    ['/x*', '/x', true],
  ];
  for (const [pattern, path, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(path)}`, () => {
      assert.equal(matchEndpointPattern(pattern, path), expected);
    });
  }

  it('stays fast on pathological patterns (no exponential backtracking)', () => {
    const pattern = '/' + '*a'.repeat(50) + 'b';
    const path = '/' + 'a'.repeat(5000);
    const start = process.hrtime.bigint();
    assert.equal(matchEndpointPattern(pattern, path), false);
    assert.ok(Number(process.hrtime.bigint() - start) / 1e6 < 200);
  });
});
