import type { Admission, Limiter } from './types.js';

/** The limiter when nothing is limited: admits at once and costs nothing (style.md habit 5). */
const FREE: Admission = Object.freeze({ headers: Object.freeze({}) as Record<string, string>, release: () => {} });

export class Unlimited implements Limiter {
  admit(): Admission {
    return FREE;
  }
  authFailure(): number {
    return 0;
  }
  async close(): Promise<void> {}
}
