import { describe, it } from 'node:test';
import type { ManualClock } from '../../src/core/clock.js';
import { build, deletePrefix, redisAvailable, SKIP_REDIS, uniquePrefix } from '../limits/helpers.js';
import { limitsContract } from './limits.contract.js';

/** The limits contract, run against both backends (Redis: the real server at 127.0.0.1:6379). */

limitsContract({
  backend: 'memory',
  make: async (limits) => (await build('memory', limits)) as { limiter: import('../../src/limits/limiter.js').GatewayLimiter; clock: ManualClock },
  cleanup: async () => {},
});

const redisUp = await redisAvailable();
if (redisUp) {
  const prefixes: string[] = [];
  limitsContract({
    backend: 'redis',
    make: async (limits) => {
      const prefix = uniquePrefix('contract');
      prefixes.push(prefix);
      return (await build('redis', limits, { prefix })) as { limiter: import('../../src/limits/limiter.js').GatewayLimiter; clock: ManualClock };
    },
    cleanup: async () => {
      for (const p of prefixes) await deletePrefix(p);
    },
  });
} else {
  describe('limits contract: redis backend', () => {
    it('needs a reachable Redis', { skip: SKIP_REDIS }, () => {});
  });
}
