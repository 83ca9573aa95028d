/**
 * Flags for the load generators: `--name value`, `--flag` (true), and repeatable
 * `--header "Name: value"`. Unknown names are kept; typos fail loudly through `need`.
 */
export interface Args {
  values: Map<string, string | true>;
  headers: Record<string, string>;
}

export function parseArgs(argv: readonly string[]): Args {
  const values = new Map<string, string | true>();
  const headers: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const name = a.slice(2);
    const next = argv[i + 1];
    const value: string | true = next !== undefined && !next.startsWith('--') ? (i++, next) : true;
    if (name === 'header') {
      if (value === true) throw new Error('--header needs "Name: value"');
      const c = value.indexOf(':');
      if (c < 1) throw new Error(`bad --header ${value}`);
      headers[value.slice(0, c).trim().toLowerCase()] = value.slice(c + 1).trim();
    } else {
      values.set(name, value);
    }
  }
  return { values, headers };
}

export function str(a: Args, name: string, def?: string): string {
  const v = a.values.get(name);
  if (typeof v === 'string') return v;
  if (def !== undefined) return def;
  throw new Error(`--${name} is required`);
}

export function num(a: Args, name: string, def?: number): number {
  const v = a.values.get(name);
  if (v === undefined) {
    if (def !== undefined) return def;
    throw new Error(`--${name} is required`);
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${String(v)}`);
  return n;
}

export function flag(a: Args, name: string): boolean {
  return a.values.get(name) === true || a.values.get(name) === 'true';
}
