import type { PrincipalClamps, PrincipalLimits, Scope } from '../core/types.js';
import { ModelAllowlist } from '../policy/model-allowlist.js';
import type { PolicyRecord, PolicyStore } from '../store/types.js';

/** A policy as principals take it: its scopes as a set and its allowlist compiled once, shared by every principal that uses it. */
export interface ResolvedPolicy {
  readonly id: string;
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  readonly models: readonly string[] | null;
  readonly limits: PrincipalLimits;
  readonly clamps: PrincipalClamps;
  readonly allowlist: ModelAllowlist;
}

export function resolvePolicy(r: PolicyRecord): ResolvedPolicy {
  return Object.freeze({ id: r.id, name: r.name, scopes: new Set(r.scopes), models: r.models, limits: r.limits, clamps: r.clamps, allowlist: new ModelAllowlist(r.models) });
}

/**
 * Every policy that is not deleted, in memory, by id and by name: what the key cache (and, later,
 * identities whose claims name a policy) resolve principals against when they (re)build them,
 * never per request. Refreshed by the key cache's own poll, before its keys.
 */
export class PolicyCache {
  readonly #store: PolicyStore;
  readonly #byId = new Map<string, ResolvedPolicy>();
  readonly #byName = new Map<string, ResolvedPolicy>();
  #version = 0;

  constructor(store: PolicyStore) {
    this.#store = store;
  }

  get size(): number {
    return this.#byId.size;
  }

  byId(id: string): ResolvedPolicy | undefined {
    return this.#byId.get(id);
  }

  byName(name: string): ResolvedPolicy | undefined {
    return this.#byName.get(name);
  }

  /** Loads changes since the last refresh; returns the ids of the policies that changed (deleted ones included). Throws when the store fails. */
  async refresh(): Promise<ReadonlySet<string>> {
    const { version, records } = await this.#store.changesSince(this.#version);
    const changed = new Set<string>();
    for (const r of records) {
      const old = this.#byId.get(r.id);
      if (old && this.#byName.get(old.name) === old) this.#byName.delete(old.name);
      this.#byId.delete(r.id);
      changed.add(r.id);
      if (r.deletedAt !== null) continue;
      const p = resolvePolicy(r);
      this.#byId.set(r.id, p);
      this.#byName.set(r.name, p);
    }
    this.#version = version;
    return changed;
  }
}
