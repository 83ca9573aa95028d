/**
 * The configuration with credentials hidden, for `config check --json` and logs: passwords in
 * connection URLs (store, redis.url) become `***`.
 */
export function redactConfig(config: object): unknown {
  return JSON.parse(JSON.stringify(config), (_key, value: unknown) => (typeof value === 'string' ? redactUrl(value) : value));
}

/**
 * A URL with its password replaced by `***` (store and Redis URLs in logs, messages, the audit
 * trail). Strings that are not URLs come back unchanged; a URL-shaped string that does not parse
 * but may carry credentials is not shown at all.
 */
export function redactUrl(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  try {
    const u = new URL(value);
    if (!u.password) return value;
    u.password = '***';
    return u.toString();
  } catch {
    return value.includes('@') ? `${value.slice(0, value.indexOf('://') + 3)}(unparsable url)` : value;
  }
}
