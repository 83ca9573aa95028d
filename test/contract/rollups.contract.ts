import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Stores } from '../../src/store/index.js';
import { seriesFromRollups, type SeriesBy } from '../../src/store/rollup-report.js';
import { DIMS, GRAIN_MS, GRAINS, type Dim, type RollupRow } from '../../src/store/rollups.js';
import type { NewAuditRecord, UsageGroupBy } from '../../src/store/types.js';
import { auditRec, near, onFreshStore } from './store.contract.js';

/**
 * The roll-ups every backend keeps (store/rollups.ts): what the reports read from them equals
 * what adding up the audit rows gives (counts and tokens exactly, percentiles within the
 * histogram's error), the migration's backfill builds the same rows as the appends did, and
 * pruning drops minute and hour roll-ups with the records while day roll-ups stay.
 */

export interface RollupTarget {
  open(): Promise<Stores>;
  /** Runs the backfill the migration runs (rebuilds every roll-up from the audit rows). */
  backfill(): Promise<void>;
  /** Takes the store back to before the migration that adds the roll-ups by one dimension (closed stores only); opening it again runs that migration. */
  undoDimMigration(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface RollupBackend {
  name: string;
  skip: string | false;
  target(): Promise<RollupTarget>;
}

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 2, 1);
const KEYS = ['key_a', 'key_b', 'key_c', 'key_d', null] as const;
const MODELS = ['llama3:latest', 'qwen2.5:7b', null] as const;
const NODES = ['n1', 'n2', null] as const;

/** Random audit records over three days from `base`: keys, models, nodes, refusals, latencies from 0.01 ms to 10 min. */
const recordsArb = (base: number) => fc.array(fc.record({
  dt: fc.integer({ min: 0, max: 3 * DAY - 1 }),
  k: fc.integer({ min: 0, max: KEYS.length - 1 }),
  m: fc.integer({ min: 0, max: MODELS.length - 1 }),
  n: fc.integer({ min: 0, max: NODES.length - 1 }),
  refused: fc.boolean(),
  ttfb: fc.option(fc.double({ min: -2, max: 5.8, noNaN: true }), { nil: null }),
  dur: fc.double({ min: -2, max: 5.8, noNaN: true }),
  pt: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null }),
}), { minLength: 1, maxLength: 250 }).map((xs) => xs.map((x): NewAuditRecord => {
  const ms = (e: number) => Math.round(10 ** e * 1000) / 1000;
  const key = KEYS[x.k]!;
  return auditRec({
    at: base + x.dt, principalId: key, principalName: key ? `name-of-${key}` : null, model: MODELS[x.m]!, models: MODELS[x.m] ? [MODELS[x.m]!] : [],
    node: NODES[x.n]!, decision: x.refused ? 'refused' : 'allowed', promptTokens: x.pt, completionTokens: x.pt === null ? null : x.pt * 2,
    ttfbMs: x.ttfb === null ? null : ms(x.ttfb), durationMs: ms(x.dur),
  });
}));

/** Nearest rank, as the reports define it: the ceil(p·n/100)-th smallest. */
function exactRank(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil((p * s.length) / 100) - 1]!;
}

function groupKey(by: UsageGroupBy, r: NewAuditRecord): string | number | null {
  switch (by) {
    case 'key': return r.principalId;
    case 'model': return r.model;
    case 'node': return r.node;
    case 'day': return Math.floor(r.at / DAY) * DAY;
    case 'hour': return Math.floor(r.at / HOUR) * HOUR;
    case 'all': return null;
  }
}

/** Every stored roll-up row of every grain, full and by one dimension, as comparable values. */
async function allRollups(s: Stores): Promise<string[]> {
  const out: string[] = [];
  for (const g of GRAINS) {
    for (const r of await s.audit.rollups!({ grain: g, from: 0, to: 2 ** 50 })) out.push(`${g} ${JSON.stringify(normal(r))}`);
    for (const dim of DIMS) for (const r of await s.audit.rollups!({ grain: g, dim, from: 0, to: 2 ** 50 })) out.push(`${g} by ${dim} ${JSON.stringify(normal(r))}`);
  }
  return out.sort();
}
const normal = (r: RollupRow) => ({ ...r, ttft: pairs(r.ttft), duration: pairs(r.duration) });
const pairs = (p: readonly number[]) => {
  const m: Array<[number, number]> = [];
  for (let i = 0; i < p.length; i += 2) m.push([p[i]!, p[i + 1]!]);
  return m.sort((a, b) => a[0] - b[0]);
};

export function rollupContract(b: RollupBackend): void {
  const withTarget = onFreshStore(() => b.target());

  describe(`roll-up contract: ${b.name}`, { skip: b.skip }, () => {
    it('usage over any period equals the audit rows added up: counts and tokens exact, p50/p95 within 5% (property)', withTarget(async (s) => {
      let run = 0;
      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 0, max: 3 * DAY }), fc.integer({ min: 1, max: 3 * DAY }), fc.constantFrom<UsageGroupBy>('key', 'model', 'node', 'day', 'hour', 'all'),
        fc.integer({ min: 1, max: 4 }),
        recordsArb(0),
        async (a, len, by, batches, recs) => {
          // Each run has a window of its own in one store (ten days apart).
          const base = T0 + run++ * 10 * DAY;
          const records = recs.map((r) => ({ ...r, at: r.at + base }));
          const size = Math.ceil(records.length / batches);
          for (let i = 0; i < records.length; i += size) await s.audit.append(records.slice(i, i + size));
          const since = base + a;
          const until = since + len;
          const got = await s.audit.usage({ since, until, by });
          const inside = records.filter((r) => r.at >= since && r.at < until);
          const want = new Map<string | number | null, NewAuditRecord[]>();
          for (const r of inside) {
            const k = groupKey(by, r);
            want.set(k, [...(want.get(k) ?? []), r]);
          }
          assert.equal(got.length, want.size);
          for (const row of got) {
            const rs = want.get(row.group)!;
            assert.ok(rs, `group ${String(row.group)} has no records`);
            assert.equal(row.requests, rs.length);
            assert.equal(row.refused, rs.filter((r) => r.decision === 'refused').length);
            assert.equal(row.promptTokens, rs.reduce((n, r) => n + (r.promptTokens ?? 0), 0));
            assert.equal(row.completionTokens, rs.reduce((n, r) => n + (r.completionTokens ?? 0), 0));
            const durations = rs.filter((r) => r.decision === 'allowed').map((r) => r.durationMs);
            for (const [p, v] of [[50, row.p50Ms], [95, row.p95Ms]] as const) {
              const exact = exactRank(durations, p);
              if (exact === null) assert.equal(v, null);
              else assert.ok(near(v, exact) || (exact < 0.1 && v! <= 0.1), `p${p} ${v} vs exact ${exact}`);
            }
            if (by === 'key' && row.group !== null) assert.equal(row.label, `name-of-${row.group}`);
          }
        },
      ), { numRuns: 12, seed: 22 });
    }));

    it('series: one point per bucket, top groups by requests, TTFT percentiles within 5% of each bucket\'s exact ones', withTarget(async (s) => {
      const records: NewAuditRecord[] = [];
      // 12 keys (more than the top 10): key i makes 12 - i requests per hour for 3 hours.
      for (let i = 0; i < 12; i++) {
        for (let h = 0; h < 3; h++) {
          for (let j = 0; j < 12 - i; j++) records.push(auditRec({ at: T0 + h * HOUR + j * MIN, principalId: `key_${String(i).padStart(2, '0')}`, principalName: `k${i}`, ttfbMs: 5 + j * 7.3 + i }));
        }
      }
      await s.audit.append(records);
      const series = await seriesFromRollups((q) => s.audit.rollups!(q), { since: T0 - HOUR, until: T0 + 4 * HOUR, grain: 'hour', by: 'key' });
      assert.equal(series.length, 11);
      assert.deepEqual(series.slice(0, 10).map((x) => x.group), Array.from({ length: 10 }, (_, i) => `key_${String(i).padStart(2, '0')}`));
      assert.equal(series[0]!.label, 'k0');
      assert.deepEqual([series[10]!.group, series[10]!.label], [null, 'other']);
      for (const x of series) assert.deepEqual(x.points.map((p) => p.t), [T0 - HOUR, T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]);
      assert.deepEqual(series[0]!.points.map((p) => p.requests), [0, 12, 12, 12, 0]);
      assert.deepEqual(series[10]!.points.map((p) => p.requests), [0, 3, 3, 3, 0]); // keys 10 and 11: 2 + 1
      const k0 = records.filter((r) => r.principalId === 'key_00' && r.at < T0 + HOUR).map((r) => r.ttfbMs!);
      assert.ok(near(series[0]!.points[1]!.ttftP50Ms, exactRank(k0, 50)!) && near(series[0]!.points[1]!.ttftP95Ms, exactRank(k0, 95)!));
      assert.equal(series[0]!.points[0]!.ttftP50Ms, null);
    }));

    it('roll-ups by one dimension equal the full rows added up by it, for every grain', withTarget(async (s) => {
      const [records] = fc.sample(recordsArb(T0), { numRuns: 1, seed: 11 });
      for (let i = 0; i < records!.length; i += 40) await s.audit.append(records!.slice(i, i + 40));
      const valueOf = (r: RollupRow, dim: Dim) => (dim === 'key' ? r.principalId : dim === 'model' ? r.model : r.node);
      for (const grain of GRAINS) {
        const full = await s.audit.rollups!({ grain, from: 0, to: 2 ** 50 });
        for (const dim of DIMS) {
          const want = new Map<string, { requests: number; refused: number; pt: number; ct: number; ttft: Map<number, number>; duration: Map<number, number> }>();
          for (const r of full) {
            const k = `${r.bucket} ${valueOf(r, dim)}`;
            const w = want.get(k) ?? { requests: 0, refused: 0, pt: 0, ct: 0, ttft: new Map(), duration: new Map() };
            want.set(k, w);
            w.requests += r.requests;
            w.refused += r.refused;
            w.pt += r.promptTokens;
            w.ct += r.completionTokens;
            for (const [h, p] of [[w.ttft, r.ttft], [w.duration, r.duration]] as const) for (let i = 0; i < p.length; i += 2) h.set(p[i]!, (h.get(p[i]!) ?? 0) + p[i + 1]!);
          }
          const got = await s.audit.rollups!({ grain, dim, from: 0, to: 2 ** 50 });
          assert.equal(got.length, want.size, `${grain} by ${dim}`);
          for (const r of got) {
            const w = want.get(`${r.bucket} ${valueOf(r, dim)}`);
            assert.ok(w, `${grain} by ${dim}: no full rows for ${r.bucket} ${valueOf(r, dim)}`);
            assert.deepEqual([r.requests, r.refused, r.promptTokens, r.completionTokens], [w.requests, w.refused, w.pt, w.ct]);
            assert.deepEqual(pairs(r.ttft), [...w.ttft].sort((a, b) => a[0] - b[0]));
            assert.deepEqual(pairs(r.duration), [...w.duration].sort((a, b) => a[0] - b[0]));
            for (const other of DIMS) if (other !== dim) assert.equal(valueOf(r, other), null);
            if (dim === 'key' && r.principalId !== null) assert.equal(r.label, `name-of-${r.principalId}`);
          }
        }
      }
    }));

    it('series by any group under any filters equal the audit rows added up, whichever roll-ups answer (property)', withTarget(async (s) => {
      let run = 0;
      await fc.assert(fc.asyncProperty(
        fc.constantFrom<SeriesBy>('key', 'model', 'node', 'none'), fc.constantFrom<'minute' | 'hour' | 'day'>('hour', 'day'),
        fc.option(fc.constantFrom('key_a', 'key_b'), { nil: undefined }), fc.option(fc.constantFrom('llama3:latest', ''), { nil: undefined }), fc.option(fc.constantFrom('n1', ''), { nil: undefined }),
        recordsArb(0),
        async (by, grain, principalId, model, node, recs) => {
          const base = T0 + 400 * DAY + run++ * 10 * DAY;
          const records = recs.map((r) => ({ ...r, at: r.at + base }));
          await s.audit.append(records);
          const size = GRAIN_MS[grain];
          const since = Math.floor(base / size) * size;
          const until = since + 4 * DAY;
          const series = await seriesFromRollups((q) => s.audit.rollups!(q), {
            since, until, grain, by, ...(principalId !== undefined ? { principalId } : {}), ...(model !== undefined ? { model } : {}), ...(node !== undefined ? { node } : {}),
          });
          const inside = records.filter((r) => (principalId === undefined || r.principalId === principalId) && (model === undefined || (r.model ?? '') === model) && (node === undefined || (r.node ?? '') === node));
          const groupOf = (r: NewAuditRecord) => (by === 'key' ? r.principalId : by === 'model' ? r.model : by === 'node' ? r.node : null);
          const groups = new Set(inside.map(groupOf));
          if (groups.size <= 10) assert.equal(series.length, groups.size);
          for (const x of series.filter((x) => x.label !== 'other')) {
            const mine = inside.filter((r) => groupOf(r) === x.group);
            assert.ok(mine.length > 0, `series ${String(x.group)} has no records`);
            for (const p of x.points) {
              const inBucket = mine.filter((r) => r.at >= p.t && r.at < p.t + size);
              assert.equal(p.requests, inBucket.length);
              assert.equal(p.refused, inBucket.filter((r) => r.decision === 'refused').length);
              assert.equal(p.promptTokens, inBucket.reduce((n, r) => n + (r.promptTokens ?? 0), 0));
              const exact = exactRank(inBucket.filter((r) => r.decision === 'allowed' && r.ttfbMs !== null).map((r) => r.ttfbMs!), 50);
              if (exact === null) assert.equal(p.ttftP50Ms, null);
              else assert.ok(near(p.ttftP50Ms, exact) || (exact < 0.1 && p.ttftP50Ms! <= 0.1), `p50 ${p.ttftP50Ms} vs exact ${exact}`);
            }
          }
          assert.equal(series.reduce((n, x) => n + x.points.reduce((m, p) => m + p.requests, 0), 0), inside.length);
        },
      ), { numRuns: 16, seed: 23 });
    }));

    it('the migration\'s backfill builds exactly the roll-ups the appends kept', withTarget(async (s, t) => {
      const [records] = fc.sample(recordsArb(T0), { numRuns: 1, seed: 7 });
      const more = fc.sample(recordsArb(T0), { numRuns: 3, seed: 8 }).flat();
      for (const batch of [records!, more.slice(0, 100), more.slice(100)]) await s.audit.append(batch);
      const incremental = await allRollups(s);
      assert.ok(incremental.length > 0);
      await t.backfill();
      assert.deepEqual(await allRollups(s), incremental);
    }));

    it('the migration that adds roll-ups by one dimension builds them from the full roll-ups already stored', async () => {
      const t = await b.target();
      try {
        let s = await t.open();
        const [records] = fc.sample(recordsArb(T0), { numRuns: 1, seed: 12 });
        await s.audit.append(records!);
        const before = await allRollups(s);
        assert.ok(before.some((r) => r.includes(' by key ')));
        await s.close();
        await t.undoDimMigration();
        s = await t.open();
        try {
          assert.deepEqual(await allRollups(s), before);
        } finally {
          await s.close();
        }
      } finally {
        await t.cleanup();
      }
    });

    it('prune drops minute and hour roll-ups that end by the cut-off, keeps day roll-ups', withTarget(async (s) => {
      await s.audit.append([auditRec({ at: T0 + 10 }), auditRec({ at: T0 + 2 * HOUR + 5 * MIN }), auditRec({ at: T0 + 3 * HOUR + 30 * MIN })]);
      const cut = T0 + 3 * HOUR + 15 * MIN;
      assert.equal(await s.audit.prune(cut), 2);
      const buckets = async (g: 'minute' | 'hour' | 'day') => (await s.audit.rollups!({ grain: g, from: 0, to: 2 ** 50 })).map((r) => r.bucket - T0);
      assert.deepEqual(await buckets('minute'), [3 * HOUR + 30 * MIN]);
      assert.deepEqual(await buckets('hour'), [3 * HOUR]);
      assert.deepEqual(await buckets('day'), [0]);
      assert.equal((await s.audit.rollups!({ grain: 'day', from: 0, to: 2 ** 50 }))[0]!.requests, 3);
      const byNode = async (g: 'minute' | 'hour' | 'day') => (await s.audit.rollups!({ grain: g, dim: 'node', from: 0, to: 2 ** 50 })).map((r) => r.bucket - T0);
      assert.deepEqual(await byNode('minute'), [3 * HOUR + 30 * MIN]);
      assert.deepEqual(await byNode('hour'), [3 * HOUR]);
      assert.deepEqual(await byNode('day'), [0]);
      void GRAIN_MS;
    }));
  });
}
