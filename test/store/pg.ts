import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * PostgreSQL for tests: the server at 127.0.0.1:5432 (trust auth, database `test`), one fresh
 * schema per use, dropped afterwards. Unreachable → the caller skips with a clear message, except
 * under CI=true, where a missing database is a failure (a skipped replica test proves nothing).
 */

export const PG_BASE = process.env.GATEHOUSE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

let probe: Promise<string | null> | null = null;

/** null when PostgreSQL answers; otherwise why not (and throws under CI=true). */
export function pgUnavailable(): Promise<string | null> {
  probe ??= (async () => {
    const c = new pg.Client({ connectionString: PG_BASE, connectionTimeoutMillis: 3000 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT 1');
      return null;
    } catch (err) {
      const why = `PostgreSQL at ${PG_BASE} is unreachable (${(err as Error).message}); skipping. Set GATEHOUSE_TEST_PG or start it; under CI=true this fails.`;
      if (process.env.CI === 'true') throw new Error(why);
      return why;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return probe;
}

export interface TestSchema {
  schema: string;
  /** The store URL for this schema. */
  url: string;
  drop(): Promise<void>;
}

export function freshSchema(tag = 't'): TestSchema {
  const schema = `gh_${tag}_${randomBytes(5).toString('hex')}`;
  return {
    schema,
    url: `${PG_BASE}?schema=${schema}`,
    async drop() {
      const c = new pg.Client({ connectionString: PG_BASE });
      c.on('error', () => {});
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
