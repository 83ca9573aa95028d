/**
 * Finds the credential in a request, in the three styles clients use (docs/ollama-api-notes.md §7.1):
 *   Authorization: Bearer <key>        ollama-js, ollama-python (OLLAMA_API_KEY), OpenAI SDKs, curl
 *   x-api-key: <key>                   Anthropic SDKs
 *   Authorization: Basic base64(u:key) browsers, nginx-style clients; the user name is ignored
 *   Authorization: <pub>:<sig>         the ollama CLI's Ed25519 token (OLLAMA_AUTH=1), `Bearer ` tolerated
 * Pure parsing: no lookups, no secrets compared here.
 */

export type Credential =
  | { kind: 'none' }
  | { kind: 'api_key'; key: string }
  | { kind: 'ssh'; token: string }
  | { kind: 'malformed'; reason: string };

const MAX_HEADER = 4096;

export function extractCredential(authorization: string | undefined, xApiKey: string | string[] | undefined): Credential {
  if (Array.isArray(xApiKey)) return { kind: 'malformed', reason: 'x-api-key was sent more than once' };
  const fromAuth = authorization === undefined ? null : parseAuthorization(authorization);
  const fromX = xApiKey === undefined ? null : parseXApiKey(xApiKey);
  if (fromAuth && fromX) {
    // Anthropic SDKs may send both; they must agree, or we would be guessing which one counts.
    if (fromAuth.kind === 'api_key' && fromX.kind === 'api_key' && fromAuth.key === fromX.key) return fromAuth;
    return { kind: 'malformed', reason: 'both Authorization and x-api-key were sent with different values; send one credential' };
  }
  return fromAuth ?? fromX ?? { kind: 'none' };
}

function parseXApiKey(v: string): Credential {
  const key = v.trim();
  if (key === '') return { kind: 'malformed', reason: 'x-api-key is empty' };
  if (key.length > MAX_HEADER) return { kind: 'malformed', reason: 'x-api-key is too long' };
  return { kind: 'api_key', key };
}

function parseAuthorization(v: string): Credential {
  if (v.length > MAX_HEADER) return { kind: 'malformed', reason: 'Authorization header is too long' };
  const value = v.trim();
  if (value === '') return { kind: 'malformed', reason: 'Authorization header is empty' };
  const sp = value.indexOf(' ');
  if (sp === -1) {
    // No scheme: the ollama CLI sends its Ed25519 token bare.
    return value.includes(':') ? { kind: 'ssh', token: value } : { kind: 'malformed', reason: 'Authorization needs a scheme: "Bearer <key>"' };
  }
  const scheme = value.slice(0, sp).toLowerCase();
  const rest = value.slice(sp + 1).trim();
  if (rest === '') return { kind: 'malformed', reason: `Authorization: ${scheme} has no credential` };
  if (scheme === 'bearer') {
    // Gatehouse keys never contain ':'; Ed25519 tokens always do.
    return rest.includes(':') ? { kind: 'ssh', token: rest } : { kind: 'api_key', key: rest };
  }
  if (scheme === 'basic') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(rest)) return { kind: 'malformed', reason: 'Basic credentials are not valid base64' };
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return { kind: 'malformed', reason: 'Basic credentials must be user:key' };
    const key = decoded.slice(colon + 1);
    return key ? { kind: 'api_key', key } : { kind: 'malformed', reason: 'Basic credentials carry no key (put the key in the password)' };
  }
  return { kind: 'malformed', reason: `unsupported Authorization scheme "${scheme.slice(0, 20)}"; use "Bearer <key>"` };
}
