// Property-based checks of the Host allowlist (DNS rebinding, docs/threat-model.md E1/E2/B4): for any Host
// value, it is accepted only when the host it names is an IP literal, a loopback name, or a name
// the operator listed (exactly, or under a listed *.suffix), and it never throws.

import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileHostCheck } from './host-check.js';

const ALLOWED = ['gw.example.com', '*.corp.example'];
const check = compileHostCheck(ALLOWED);

/** The reference: strict RFC 3986 reg-name/IP-literal + port, then the operator's list. */
function referenceAllows(raw: string): boolean {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(raw);
  if (!m || (m[2] !== undefined && Number(m[2]) > 65535)) return false;
  let host = m[1]!.toLowerCase();
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6;
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.split('.').some((label) => label === '' || label.startsWith('-') || label.length > 63)) return false;
  if (isIP(host) === 4) return true;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return host === 'gw.example.com' || (host.endsWith('.corp.example') && host.length > '.corp.example'.length);
}

const piece = fc.constantFrom('gw', 'example', 'com', 'corp', 'localhost', 'evil', '127', '0', '1', 'xn--9ca', 'GW', 'EXAMPLE', 'a-b', '-x', '');
const name = fc.array(piece, { minLength: 1, maxLength: 5 }).map((p) => p.join('.'));
const hostValue = fc.oneof(
  fc.tuple(name, fc.constantFrom('', ':80', ':443', ':0', ':65535', ':65536', ':', ':x', '.', '..', '/', '#', '@evil', '?', ' ')).map(([n, s]) => n + s),
  fc.tuple(fc.constantFrom('gw.example.com', 'a.corp.example', 'localhost', '127.0.0.1', '[::1]'), fc.constantFrom('', '.evil.example', 'evil', '@evil.example', ':80@evil', '/x', '\\', '%2e', '\t')).map(([a, b]) => a + b),
  fc.constantFrom('[::1]', '[::ffff:127.0.0.1]:80', '[fe80::1]', '[::1', '::1', '[gw.example.com]', '127.0.0.1.', '0x7f.1', '2130706433', ''),
  fc.string({ maxLength: 40 }),
);

describe('Host allowlist (properties)', () => {
  it('never throws; accepts only IP literals, loopback names and listed names', () => {
    fc.assert(
      fc.property(hostValue, (raw) => {
        const v = check(raw);
        if (v.ok) assert.ok(referenceAllows(raw), `accepted Host ${JSON.stringify(raw)}`);
      }),
      { numRuns: 10_000 },
    );
  });

  it('a remembered verdict is the verdict a fresh check gives (through the cache\'s evictions)', () => {
    // `check` has seen thousands of values by now, so its bounded cache has been emptied many times.
    fc.assert(
      fc.property(fc.array(hostValue, { minLength: 1, maxLength: 100 }), (raws) => {
        for (const raw of raws) check(raw);
        for (const raw of raws) assert.deepEqual(check(raw), compileHostCheck(ALLOWED)(raw), JSON.stringify(raw));
      }),
      { numRuns: 300 },
    );
  });

  it('every listed name is accepted, with any port and in any case', () => {
    fc.assert(
      fc.property(fc.constantFrom('gw.example.com', 'x.corp.example', 'a.b.corp.example', 'localhost', '127.0.0.1', '[::1]'), fc.nat({ max: 65535 }), fc.boolean(), (h, port, upper) => {
        const v = check(`${upper ? h.toUpperCase() : h}:${port}`);
        assert.ok(v.ok);
      }),
    );
  });
});
