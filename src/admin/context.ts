import type { Config } from '../config/schema.js';
import type { Principal } from '../core/types.js';
import type { FleetSnapshot } from '../fleet/snapshot.js';
import type { Actor, AuditStore, KeyStore, PolicyStore } from '../store/types.js';

/** What the admin handlers work on: the stores the gateway opened, its config, and its live fleet. */
export interface AdminDeps {
  keys: KeyStore;
  policies: PolicyStore;
  audit: AuditStore;
  config: Config;
  /** This process's live view of the nodes; null without `upstreams`. */
  fleet: (() => FleetSnapshot) | null;
  now?: () => number;
}

/** One admin request as a handler sees it: validated params, query and body, and who asks. */
export interface AdminRequest<Q = unknown, B = unknown> {
  params: Record<string, string>;
  query: Q;
  body: B;
  /** Recorded in the admin trail with every change. */
  by: Actor;
  /** Who asks (the self-service routes act on its own keys). */
  principal: Principal;
}

export interface AdminAnswer {
  status: number;
  /** Sent as JSON, or as it is (a string) when `contentType` is set. */
  body: unknown;
  contentType?: string;
}

/** Query and body arrive validated by the route's schemas (api.ts); each handler reads them as its schema's output. */
export type AdminHandler = (d: AdminDeps, r: AdminRequest) => Promise<AdminAnswer>;
