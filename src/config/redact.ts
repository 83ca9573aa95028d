/**
 * The configuration with credentials hidden, for `config check --json` and logs: passwords in
 * connection URLs (store, redis.url) become `***`.
 */
export function redactConfig(config: object): unknown {
  return JSON.parse(JSON.stringify(config), (_key, value: unknown) => (typeof value === 'string' ? redactUrl(value) : value));
}

export function redactUrl(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  try {
    const u = new URL(value);
    if (!u.password) return value;
    u.password = '***';
    return u.toString();
  } catch {
    return value;
  }
}
