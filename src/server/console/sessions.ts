import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { ConsoleSessionRecord, ConsoleSessionStore, SessionPrincipal } from '../../store/types.js';

/**
 * Server-side console sessions. The cookie carries 256 random bits; the store keeps only their
 * SHA-256, so a copy of the database signs nobody in. The CSRF token is derived from the secret
 * (a hash of it under another label): the page reads it from GET /console/api/session and sends it
 * in X-CSRF-Token with every change; another site can neither read it nor compute it.
 *
 * A session ends at its absolute end (admin.console.session_max after sign-in), after
 * admin.console.session_idle unused, or at sign-out (the row is deleted: every process sees it at
 * once, as the store is shared). Last use is written at most once a minute.
 */

const TOUCH_EVERY_MS = 60_000;

export interface OpenSession {
  secret: string;
  csrf: string;
  record: ConsoleSessionRecord;
}

export interface FoundSession {
  record: ConsoleSessionRecord;
  csrf: string;
  /** When it ends if unused from now. */
  idleEndsAt: number;
}

const sha256 = (label: string, secret: string): string => createHash('sha256').update(`${label}\0${secret}`).digest('base64url');

export class ConsoleSessions {
  readonly #store: ConsoleSessionStore;
  readonly #clock: Clock;
  readonly idleMs: number;
  readonly maxMs: number;

  constructor(store: ConsoleSessionStore, clock: Clock, opts: { idleMs: number; maxMs: number }) {
    this.#store = store;
    this.#clock = clock;
    this.idleMs = opts.idleMs;
    this.maxMs = opts.maxMs;
  }

  /** A new session for this principal (or a pending sign-in: `lifetimeMs` of its own). */
  async open(principal: SessionPrincipal, lifetimeMs = this.maxMs): Promise<OpenSession> {
    const now = this.#clock.now();
    // Expired rows go as new ones come: the table holds live sessions and little else.
    await this.#store.prune(now, this.idleMs).catch(() => 0);
    const secret = randomBytes(32).toString('base64url');
    const record: ConsoleSessionRecord = { idHash: sha256('session', secret), principal, createdAt: now, lastSeenAt: now, expiresAt: now + lifetimeMs };
    await this.#store.create(record);
    return { secret, csrf: sha256('csrf', secret), record };
  }

  /** The live session this secret opens, or null (unknown, ended, idle too long). */
  async find(secret: string): Promise<FoundSession | null> {
    const idHash = sha256('session', secret);
    const record = await this.#store.get(idHash);
    if (!record) return null;
    const now = this.#clock.now();
    if (now >= record.expiresAt || now >= record.lastSeenAt + this.idleMs) {
      await this.#store.remove(idHash);
      return null;
    }
    if (now - record.lastSeenAt >= TOUCH_EVERY_MS) {
      await this.#store.touch(idHash, now);
      record.lastSeenAt = now;
    }
    return { record, csrf: sha256('csrf', secret), idleEndsAt: Math.min(record.expiresAt, now + this.idleMs) };
  }

  /** Takes a pending sign-in once: found or not, it is gone afterwards. */
  async take(secret: string): Promise<ConsoleSessionRecord | null> {
    const idHash = sha256('session', secret);
    const record = await this.#store.get(idHash);
    if (!record) return null;
    await this.#store.remove(idHash);
    return this.#clock.now() < record.expiresAt ? record : null;
  }

  async end(secret: string): Promise<void> {
    await this.#store.remove(sha256('session', secret));
  }
}

/** Constant-time comparison of a sent CSRF token with the session's. */
export function csrfMatches(sent: string | string[] | undefined, expected: string): boolean {
  if (typeof sent !== 'string' || sent.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(sent), Buffer.from(expected));
}
