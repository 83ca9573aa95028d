import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/schema.js';
import { AuthFailureGuard, type SharedCounter } from './auth-failures.js';
import { GatewayLimiter } from './limiter.js';
import { COUNT } from './lua.js';
import { MemoryStore } from './memory-store.js';
import { Plans } from './plan.js';
import { RedisStore } from './redis-store.js';
import { ResilientStore } from './resilient-store.js';
import type { Limiter } from './types.js';
import { redactUrl } from '../config/redact.js';

/**
 * Builds the limiter from config (the composition root calls this once): the memory backend, or
 * Redis wrapped in the on_store_error policy with a memory store as the local fallback.
 */

export interface LimiterDeps {
  clock: Clock;
  log: Logger;
}

export async function createLimiter(config: Pick<Config, 'limits' | 'redis'>, deps: LimiterDeps): Promise<GatewayLimiter> {
  const l = config.limits;
  const plans = new Plans(l.defaults, l.global.concurrency, l.models);
  const queue = { maxSize: l.queue.max_size, maxPerPrincipal: l.queue.max_per_principal, maxWaitMs: l.queue.max_wait };
  if (l.backend === 'memory') {
    const auth = new AuthFailureGuard({ max: l.auth_failures.max, windowMs: l.auth_failures.window, clock: deps.clock });
    return new GatewayLimiter({ store: new MemoryStore(deps.clock), plans, queue, auth });
  }

  const r = config.redis;
  const log = deps.log.child({ component: 'limits' });
  const prefix = `${r.key_prefix}limits:`;
  const redis = new Redis(r.url, {
    lazyConnect: true,
    // Fail fast while disconnected (on_store_error decides), never replay an admission twice.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: false, // the store batches itself (one EVALSHA per event-loop turn)
    connectTimeout: r.connect_timeout,
    commandTimeout: r.command_timeout,
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
  });
  // SUBSCRIBE only, sent by the store on every 'ready' (see RedisStore: autoResubscribe must stay off).
  const subscriber = redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, autoResubscribe: false });
  let store: ResilientStore | null = null;
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis connection error'));
  subscriber.on('error', () => {});
  redis.on('close', () => store?.failed(new Error(`connection to ${redactUrl(r.url)} closed`)));
  redis.on('ready', () => store?.reconnected());

  const redisStore = new RedisStore({ redis, subscriber, clock: deps.clock, prefix, leaseTtlMs: l.lease_ttl, reserveTtlMs: l.reserve_ttl, onBackgroundError: (err) => store?.failed(err) });
  store = new ResilientStore({ redis: redisStore, local: new MemoryStore(deps.clock), mode: l.on_store_error, log });

  const shared: SharedCounter = {
    increment: (key, ttlMs) =>
      redis.evalsha(COUNT.sha, 1, key, ttlMs).catch((err: Error) => {
        if (!String(err?.message).startsWith('NOSCRIPT')) throw err;
        return redis.eval(COUNT.text, 1, key, ttlMs);
      }) as Promise<number>,
  };
  const auth = new AuthFailureGuard({ max: l.auth_failures.max, windowMs: l.auth_failures.window, clock: deps.clock, shared, prefix });

  try {
    await Promise.all([redis.connect(), subscriber.connect().catch(() => {})]);
    log.info({ redis: redactUrl(r.url), key_prefix: prefix, on_store_error: l.on_store_error }, 'limits shared through redis');
  } catch (err) {
    // Start anyway: on_store_error applies until Redis answers, and recovery is automatic.
    store.failed(err);
  }

  return new GatewayLimiter({
    store, plans, queue, auth,
    onClose: async () => {
      redis.disconnect();
      subscriber.disconnect();
    },
  });
}

export { GatewayLimiter } from './limiter.js';
export type { Limiter };
