import type { KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { refuse } from '../core/errors.js';
import type { AuthRequest, AuthResult, Authenticator } from './authenticator.js';
import type { Credential } from './credentials.js';
import type { KeyCache } from './key-cache.js';
import type { ResolvedPrincipal } from './principal.js';
import { createEd25519KeyObject, formatPublicKeyLine, sshFingerprint } from './ssh/public-key.js';
import type { ReplayGuard } from './ssh/replay-guard.js';
import { checkStanding, SSH_KEY_STANDING } from './standing.js';
import { buildChallenge, checkTimestamp, describeTokenFailure, parseOllamaToken, verifyOllamaSignature } from './ssh/token.js';

/**
 * Authenticates the ollama CLI's Ed25519 request token (docs/ollama-api-notes.md §5): the key must be
 * registered (`gatehouse keys add-ssh`, or the authorized_keys file), the timestamp fresh, and the
 * signature valid over `METHOD,PATH?ts=TS` where PATH is the path as the client sent it, minus the
 * mount prefix. Refusals are 403 with a message the CLI prints verbatim, saying exactly what to do.
 */

export interface SshAuthOptions {
  windowSec: number;
  /** When set, each token is accepted once (stricter; identical requests in one second collide). */
  replayGuard: ReplayGuard | null;
  /** Principals from the authorized_keys file, by fingerprint. */
  fileKeys: () => ReadonlyMap<string, ResolvedPrincipal>;
}

export interface SshRequest {
  method: string;
  /** Path as sent, mount prefix removed, no query. */
  path: string;
  /** The raw query string (without `?`). The CLI sends exactly `ts=N`. */
  query: string;
}

export class SshAuthenticator {
  readonly #cache: KeyCache;
  readonly #clock: Clock;
  readonly #o: SshAuthOptions;
  /** KeyObjects built once per key; the raw key never changes for a fingerprint. */
  readonly #keyObjects = new Map<string, KeyObject>();

  constructor(cache: KeyCache, clock: Clock, o: SshAuthOptions) {
    this.#cache = cache;
    this.#clock = clock;
    this.#o = o;
  }

  authenticate(token: string, req: SshRequest): AuthResult {
    const parsed = parseOllamaToken(token);
    if (!parsed.ok) {
      const code = parsed.reason === 'unsupported-key-type' ? 'GW_ERR_AUTH_SSH_KEY_TYPE' : 'GW_ERR_AUTH_SSH_MALFORMED';
      return { ok: false, error: refuse(code, `Ed25519 request token refused: ${describeTokenFailure(parsed)}`) };
    }
    const fingerprint = sshFingerprint(parsed.blob);
    // Look the key up before the (comparatively costly) signature check: unknown keys cost nothing.
    const principal = this.#cache.byFingerprint(fingerprint) ?? this.#o.fileKeys().get(fingerprint);
    if (!principal) {
      const line = formatPublicKeyLine(parsed.rawKey);
      return {
        ok: false,
        error: refuse('GW_ERR_AUTH_SSH_UNKNOWN_KEY', `this gateway does not know your key ${fingerprint}. Ask the gateway operator to run: gatehouse keys add-ssh --name <your name> --pubkey "${line}"  (your public key is in ~/.ollama/id_ed25519.pub)`),
      };
    }
    if (!isTsOnlyQuery(req.query)) {
      return { ok: false, error: refuse('GW_ERR_AUTH_SSH_MALFORMED', 'an Ed25519-signed request must carry exactly one query parameter, ts (the signature covers nothing else)') };
    }
    const nowSec = Math.floor(this.#clock.now() / 1000);
    const tsRaw = req.query.slice(3);
    const ts = checkTimestamp(tsRaw, nowSec, this.#o.windowSec);
    if (!ts.ok) {
      const msg =
        ts.reason === 'stale' || ts.reason === 'future'
          ? `the request's timestamp is ${Math.abs(ts.skewSec)} s ${ts.reason === 'stale' ? 'behind' : 'ahead of'} the gateway's clock (allowed: ±${this.#o.windowSec} s). Your clock is off: fix this machine's time (enable NTP) and retry`
          : `the request has a ${ts.reason} "ts" timestamp; the ollama CLI sends ?ts=<unix seconds> when OLLAMA_AUTH=1`;
      return { ok: false, error: refuse('GW_ERR_AUTH_SSH_CLOCK', msg) };
    }
    const key = this.#keyObject(fingerprint, parsed.rawKey);
    if (!verifyOllamaSignature(key, buildChallenge(req.method, req.path, tsRaw), parsed.signature)) {
      return {
        ok: false,
        error: refuse('GW_ERR_AUTH_SSH_BAD_SIGNATURE', `the request signature for key ${fingerprint} does not match. If Gatehouse is served under a path prefix, set base_path in its config; otherwise the request was altered on the way`),
      };
    }
    const standing = checkStanding(principal, this.#clock, SSH_KEY_STANDING);
    if (!standing.ok) return standing;
    if (this.#o.replayGuard) {
      const verdict = this.#o.replayGuard.check(parsed.signatureB64, ts.ts, nowSec);
      if (verdict === 'replay') {
        return { ok: false, error: refuse('GW_ERR_AUTH_SSH_REPLAY', 'this signed request was already used (the gateway accepts each token once: ssh.replay = once). Retry in a second') };
      }
      if (verdict !== 'fresh') {
        return { ok: false, error: refuse('GW_ERR_AUTH_SSH_REPLAY', 'the gateway cannot check this token for replay right now; retry shortly') };
      }
    }
    return standing;
  }

  #keyObject(fingerprint: string, rawKey: Buffer): KeyObject {
    let k = this.#keyObjects.get(fingerprint);
    if (!k) {
      k = createEd25519KeyObject(rawKey);
      this.#keyObjects.set(fingerprint, k);
    }
    return k;
  }
}

/**
 * The ollama CLI's token (`Authorization: <pub>:<sig>`, `Bearer ` tolerated) as one authenticator.
 * With ssh.enabled: false (`ssh` null) such a token is still claimed, and refused saying why, so
 * it is never mistaken for a mistyped API key.
 */
export class OllamaTokenAuthenticator implements Authenticator {
  readonly #ssh: SshAuthenticator | null;

  constructor(ssh: SshAuthenticator | null) {
    this.#ssh = ssh;
  }

  authenticate(credential: Credential, request: AuthRequest): AuthResult | null {
    if (credential.kind !== 'ssh') return null;
    if (!this.#ssh) return { ok: false, error: refuse('GW_ERR_AUTH_SSH_DISABLED', 'Ed25519-signed requests (OLLAMA_AUTH=1) are turned off on this gateway (ssh.enabled: false); use an API key') };
    return this.#ssh.authenticate(credential.token, request);
  }
}

function isTsOnlyQuery(q: string): boolean {
  return q.startsWith('ts=') && !q.includes('&');
}
