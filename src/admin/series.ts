import type { z } from 'zod';
import { refuse } from '../core/errors.js';
import { seriesFromRollups } from '../store/rollup-report.js';
import { GRAIN_MS, GRAINS, type Grain } from '../store/rollups.js';
import type { AdminDeps, AdminHandler } from './context.js';
import { findKey } from './keys.js';
import type { SeriesQuery } from './schemas.js';

/**
 * GET /admin/v1/usage/series: the console's charts, from the roll-ups (store/rollup-report.ts).
 * The period is rounded out to whole buckets of the grain (the answer says which), so every point
 * covers a whole minute, hour or day.
 */

/** The default grain is the finest that gives at most this many points. */
const DEFAULT_POINTS = 500;
/** More points than this per series is refused: a chart cannot show them, and they cost the store. */
export const MAX_POINTS = 2000;

const now = (d: AdminDeps): number => (d.now ?? Date.now)();

export const usageSeries: AdminHandler = async (d, r) => {
  const q = r.query as z.output<typeof SeriesQuery>;
  const until = q.until ?? now(d);
  const since = q.since ?? until - GRAIN_MS.day;
  if (since >= until) throw refuse('GW_ERR_ADMIN_INVALID', `invalid request query: since (${since}) must be before until (${until})`);
  const grain: Grain = q.grain ?? GRAINS.find((g) => Math.ceil((until - since) / GRAIN_MS[g]) <= DEFAULT_POINTS) ?? 'day';
  const size = GRAIN_MS[grain];
  const from = Math.floor(since / size) * size;
  const to = Math.ceil(until / size) * size;
  const points = (to - from) / size;
  if (points > MAX_POINTS) {
    throw refuse('GW_ERR_ADMIN_INVALID', `invalid request query: ${points} ${grain}s is more than ${MAX_POINTS} points per series; ask for a coarser grain (hour, day) or a shorter period`);
  }
  const by = q.by ?? 'key';
  const principalId = q.key !== undefined ? (await findKey(d, q.key)).id : undefined;
  const read = d.audit.rollups?.bind(d.audit);
  if (!read) throw new Error('the audit store keeps no roll-ups');
  const series = await seriesFromRollups(read, {
    since: from, until: to, grain, by,
    ...(principalId !== undefined ? { principalId } : {}), ...(q.model !== undefined ? { model: q.model } : {}), ...(q.node !== undefined ? { node: q.node } : {}),
  });
  return { status: 200, body: { since: from, until: to, grain, by, series } };
};
