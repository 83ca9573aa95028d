// An sshd-style authorized_keys file in the format of the unmerged upstream Ollama design
// (PR #11574, docs/ollama-api-notes.md §5.5), one key per line:
//
//   ssh-ed25519 <base64 key> <name> <endpoints>
//   # comment lines and blank lines are ignored
//
// `endpoints` is a comma-separated list of path patterns where `*` matches any run of characters
// (including `/` and nothing): `*`, `/api/tags,/api/chat`, `/api/*`.
//
// A bad line is reported with its number and skipped; the good lines still load. Whether a file
// with errors is usable at all is the caller's decision (a strict config check should refuse it).

import { nextField } from './fields.js';
import { describePublicKeyLineFailure, parsePublicKeyLine } from './public-key.js';

export interface AuthorizedKeyEntry {
  /** `SHA256:...` as printed by `ssh-keygen -lf`. */
  fingerprint: string;
  name: string;
  /** Canonical `ssh-ed25519 <base64>` line (no name or endpoints). */
  keyLine: string;
  /** Raw 32-byte Ed25519 key. */
  rawKey: Buffer;
  endpoints: string[];
  /** 1-based line number, for messages that point back at the file. */
  line: number;
}

export interface AuthorizedKeysError {
  line: number;
  reason: string;
}

export interface AuthorizedKeys {
  entries: AuthorizedKeyEntry[];
  errors: AuthorizedKeysError[];
}

export function parseAuthorizedKeys(text: string): AuthorizedKeys {
  const entries: AuthorizedKeyEntry[] = [];
  const errors: AuthorizedKeysError[] = [];
  const firstLineByFingerprint = new Map<string, number>();

  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    const first = nextField(raw, 0);
    if (first === null || raw.charCodeAt(first[0]) === 0x23 /* # */) continue;

    const result = parseAuthorizedKeyLine(raw, lineNo);
    if ('reason' in result) {
      errors.push(result);
      continue;
    }
    const earlier = firstLineByFingerprint.get(result.fingerprint);
    if (earlier !== undefined) {
      // Two lines for one key would make its name and endpoints depend on line order.
      errors.push({ line: lineNo, reason: `key ${result.fingerprint} is already listed on line ${earlier}` });
      continue;
    }
    firstLineByFingerprint.set(result.fingerprint, lineNo);
    entries.push(result);
  }
  return { entries, errors };
}

function parseAuthorizedKeyLine(raw: string, lineNo: number): AuthorizedKeyEntry | AuthorizedKeysError {
  const key = parsePublicKeyLine(raw);
  if (!key.ok) return { line: lineNo, reason: describePublicKeyLineFailure(key) };

  // parsePublicKeyLine leaves everything after the key data in `comment`: here, name and endpoints.
  const nameField = nextField(key.comment, 0);
  if (nameField === null) return { line: lineNo, reason: 'missing name and endpoints (expected: ssh-ed25519 <key> <name> <endpoints>)' };
  const endpointsField = nextField(key.comment, nameField[1]);
  if (endpointsField === null) return { line: lineNo, reason: 'missing endpoints (use * to allow every endpoint)' };
  if (nextField(key.comment, endpointsField[1]) !== null) {
    return { line: lineNo, reason: 'unexpected text after endpoints (endpoints are comma-separated, without spaces)' };
  }

  const name = key.comment.slice(nameField[0], nameField[1]);
  // The name ends up in logs and audit records; control characters there would forge log output.
  if (hasControlCharacter(name)) return { line: lineNo, reason: 'name contains control characters' };

  const endpoints = key.comment.slice(endpointsField[0], endpointsField[1]).split(',');
  for (const pattern of endpoints) {
    const problem = endpointPatternProblem(pattern);
    if (problem !== null) return { line: lineNo, reason: problem };
  }
  return {
    fingerprint: key.fingerprint,
    name,
    keyLine: `${key.type} ${key.blob.toString('base64')}`,
    rawKey: Buffer.from(key.rawKey), // own copy, so the entry does not pin the parse buffers
    endpoints,
    line: lineNo,
  };
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Rejects patterns that could never match a request path, so typos surface at load time. */
function endpointPatternProblem(pattern: string): string | null {
  if (pattern === '') return 'empty endpoint in list (check for a doubled or trailing comma)';
  const c = pattern.charCodeAt(0);
  if (c !== 0x2f /* / */ && c !== 0x2a /* * */) return `endpoint ${JSON.stringify(pattern)} must start with / or *`;
  if (pattern.includes('?')) return `endpoint ${JSON.stringify(pattern)} contains '?': patterns match the path only, not the query`;
  return null;
}

/**
 * True when `path` matches any pattern. `path` must already be the canonical, decoded request path
 * without the mount prefix or query: `*` also matches `/` and `..`, so an uncanonicalized path
 * could walk out of a `/api/*` grant.
 */
export function endpointAllowed(endpoints: readonly string[], path: string): boolean {
  for (const pattern of endpoints) {
    if (matchEndpointPattern(pattern, path)) return true;
  }
  return false;
}

/**
 * Glob match where `*` matches any run of characters and everything else matches itself.
 * Greedy leftmost placement of each literal segment is exact for this kind of pattern, so there is
 * no backtracking: at worst O(pattern × path) character comparisons, and no substrings are built.
 */
export function matchEndpointPattern(pattern: string, path: string): boolean {
  const firstStar = pattern.indexOf('*');
  if (firstStar === -1) return pattern === path;
  if (!regionEquals(path, 0, pattern, 0, firstStar)) return false;

  let pathPos = firstStar;
  let segStart = firstStar + 1;
  for (;;) {
    const segEnd = pattern.indexOf('*', segStart);
    if (segEnd === -1) {
      // The last literal segment must end the path, without overlapping what was already consumed.
      const tail = pattern.length - segStart;
      return path.length - tail >= pathPos && regionEquals(path, path.length - tail, pattern, segStart, pattern.length);
    }
    const found = indexOfRegion(path, pathPos, pattern, segStart, segEnd);
    if (found === -1) return false;
    pathPos = found + (segEnd - segStart);
    segStart = segEnd + 1;
  }
}

/** path[at, at + (end − start)) === pattern[start, end) */
function regionEquals(path: string, at: number, pattern: string, start: number, end: number): boolean {
  if (at < 0 || at + (end - start) > path.length) return false;
  for (let i = start; i < end; i++) {
    if (path.charCodeAt(at + i - start) !== pattern.charCodeAt(i)) return false;
  }
  return true;
}

/** First index ≥ from where pattern[start, end) occurs in path, or -1. */
function indexOfRegion(path: string, from: number, pattern: string, start: number, end: number): number {
  const last = path.length - (end - start);
  for (let at = from; at <= last; at++) {
    if (regionEquals(path, at, pattern, start, end)) return at;
  }
  return -1;
}
