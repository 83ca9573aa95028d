import type { ResolvedPrincipal } from '../auth/principal.js';
import type { PrincipalLimits } from '../core/types.js';
import { ModelAllowlist } from '../policy/model-allowlist.js';
import type { ModelCap } from './store.js';

/**
 * Which limits apply to whom, worked out once per principal object (the key cache hands out a
 * new frozen object when a key changes, so a WeakMap is an exact cache) and once per model name.
 */

export interface LimitDefaults {
  rpm: number | null;
  tpm: number | null;
  tpd: number | null;
  concurrency: number | null;
}

export interface PrincipalPlan {
  readonly pid: string;
  readonly rpm: number | null;
  readonly tpm: number | null;
  readonly tpd: number | null;
  readonly concurrency: number | null;
  /** Some per-principal limit applies to every request (rpm or concurrency). */
  readonly always: boolean;
  /** A token limit applies to requests that use tokens. */
  readonly tokens: boolean;
}

export class Plans {
  readonly #defaults: LimitDefaults;
  readonly #byPrincipal = new WeakMap<ResolvedPrincipal, PrincipalPlan>();
  readonly #modelPatterns: ReadonlyArray<{ match: ModelAllowlist; cap: number }>;
  readonly #modelCache = new Map<string, ModelCap | null>();
  readonly global: number | null;

  constructor(defaults: LimitDefaults, global: number | null, models: Readonly<Record<string, { concurrency: number }>>) {
    this.#defaults = defaults;
    this.global = global;
    this.#modelPatterns = Object.entries(models).map(([pattern, v]) => ({ match: new ModelAllowlist([pattern]), cap: v.concurrency }));
  }

  get hasModelCaps(): boolean {
    return this.#modelPatterns.length > 0;
  }

  forPrincipal(p: ResolvedPrincipal): PrincipalPlan {
    let plan = this.#byPrincipal.get(p);
    if (!plan) {
      plan = resolvePlan(p.id, p.limits, this.#defaults);
      this.#byPrincipal.set(p, plan);
    }
    return plan;
  }

  /** The per-model caps that apply to a request naming `models` (first matching pattern wins). */
  modelCaps(models: readonly string[]): readonly ModelCap[] {
    if (this.#modelPatterns.length === 0 || models.length === 0) return NONE;
    if (models.length === 1) {
      const c = this.#capFor(models[0]!);
      return c ? [c] : NONE;
    }
    const out: ModelCap[] = [];
    for (const m of new Set(models)) {
      const c = this.#capFor(m);
      if (c) out.push(c);
    }
    return out;
  }

  #capFor(model: string): ModelCap | null {
    let c = this.#modelCache.get(model);
    if (c !== undefined) return c;
    c = null;
    for (const p of this.#modelPatterns) {
      if (p.match.allows(model)) {
        c = { model, cap: p.cap };
        break;
      }
    }
    // Model names come from requests: bound the cache (a '*' allowlist admits any name).
    if (this.#modelCache.size >= 10_000) this.#modelCache.clear();
    this.#modelCache.set(model, c);
    return c;
  }
}

const NONE: readonly ModelCap[] = Object.freeze([]);

export function resolvePlan(pid: string, own: PrincipalLimits, d: LimitDefaults): PrincipalPlan {
  const rpm = own.rpm ?? d.rpm;
  const tpm = own.tpm ?? d.tpm;
  const tpd = own.tpd ?? d.tpd;
  const concurrency = own.concurrency ?? d.concurrency;
  return {
    pid, rpm, tpm, tpd, concurrency,
    always: rpm !== null || concurrency !== null,
    tokens: tpm !== null || tpd !== null,
  };
}
