/**
 * `store: postgres://user:pass@host:5432/db?schema=gatehouse`: everything pg understands, plus
 * `schema` (default `gatehouse`), the schema Gatehouse keeps its tables in, so one database can
 * hold several gateways (or test runs) side by side.
 */

import { redactUrl } from '../../config/redact.js';

export interface PgTarget {
  /** The URL without our own `schema` parameter. */
  connectionString: string;
  schema: string;
  /** For messages and logs: the password replaced by `***`. */
  display: string;
}

/** Lower-case identifiers only: no quoting games in search_path, channel names or advisory locks. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;

export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

export function parsePostgresUrl(url: string): PgTarget {
  const u = new URL(url);
  const schema = u.searchParams.get('schema') ?? 'gatehouse';
  if (!SCHEMA_NAME.test(schema)) throw new Error(`store: schema "${schema}" must be lower-case letters, digits and _ (at most 40), starting with a letter or _`);
  u.searchParams.delete('schema');
  const connectionString = u.toString();
  return { connectionString, schema, display: redactUrl(url) };
}
