import { ALL_SCOPES, type PrincipalClamps, type PrincipalLimits, type Scope } from '../../core/types.js';
import type { Config } from '../../config/schema.js';
import { parseDuration } from '../../config/units.js';
import { invalidPatterns } from '../../policy/model-allowlist.js';
import { UsageError } from '../args.js';
import { when } from '../output.js';

/** The values of the `keys` flags: scopes, models, expiry, limits and clamps, each refused with a reason. */

type Values = Record<string, string | boolean | undefined>;

export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function parseScopes(text: string): Scope[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError('--scopes needs at least one scope');
  for (const s of list) if (!ALL_SCOPES.includes(s as Scope)) throw new UsageError(`unknown scope "${s}"; scopes are ${ALL_SCOPES.join(', ')}`);
  return [...new Set(list)] as Scope[];
}

export function parseModels(text: string): string[] | null {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError('--models needs at least one pattern ("*" for all)');
  if (list.includes('*') || list.includes('all')) return null;
  const bad = invalidPatterns(list);
  if (bad.length) throw new UsageError(`invalid model pattern(s): ${bad.join(', ')}`);
  return list;
}

/**
 * `--expires`: a duration from now or a date; "never" for none. A moment that is not in the future
 * is refused: a key that is expired the moment it is made (a date typed with last year, `0s`) is
 * a mistake, and stopping a key is `keys revoke`.
 */
export function parseExpiry(text: string, now = Date.now()): number | null {
  if (text === 'never' || text === 'none') return null;
  const ms = parseDuration(text);
  let at: number | null = ms !== null ? now + ms : null;
  if (at === null) {
    const t = Date.parse(text);
    if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}/.test(text)) at = t;
  }
  if (at === null) throw new UsageError(`--expires: "${text}" is neither a duration (30d, 12h) nor a date (2026-12-31)`);
  if (at <= now) {
    throw new UsageError(`--expires ${text} is ${ms === 0 ? 'now' : `in the past (${when(at)}; it is ${when(now)})`}: the key would never work. Give a future date or a duration such as 90d; to stop a key, use gatehouse keys revoke`);
  }
  return at;
}

/** Words that would mean "no limit" to a reader: refused, because null means "follow the default". */
const NO_LIMIT_WORDS = new Set(['none', 'unlimited', 'off', 'no']);

/**
 * A limit or clamp value: a whole number, or "default" (null: follow the config). "none" is
 * refused: a key's unset limit follows limits.defaults, so "none" would not mean "no limit"
 * whenever a default is configured.
 */
function parseCount(flag: string, text: string, configured: number | null | undefined, configKey: string): number | null {
  if (text === 'default') return null;
  if (NO_LIMIT_WORDS.has(text)) {
    const now = configured === null || configured === undefined ? 'no limit' : String(configured);
    throw new UsageError(`--${flag} ${text}: a key cannot opt out of ${configKey} (now: ${now}). Use --${flag} default to follow it, or a number for this key's own limit`);
  }
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag}: expected a whole number or "default", got "${text}"`);
  return Number(text);
}

export function parseLimits(v: Values, base: PrincipalLimits, config: Config): PrincipalLimits {
  const out = { ...base };
  for (const k of ['rpm', 'tpm', 'tpd', 'concurrency'] as const) {
    const t = str(v[k]);
    if (t !== undefined) out[k] = parseCount(k, t, config.limits.defaults[k], `limits.defaults.${k}`);
  }
  return out;
}

export function parseClamps(v: Values, base: PrincipalClamps, config: Config): PrincipalClamps {
  const out: PrincipalClamps = { ...base };
  const num = (flag: string, key: 'max_num_ctx' | 'max_num_predict' | 'max_images' | 'max_embed_inputs') => {
    const t = str(v[flag]);
    if (t !== undefined) out[key] = parseCount(flag, t, config.clamps[key], `clamps.${key}`);
  };
  num('max-num-ctx', 'max_num_ctx');
  num('max-num-predict', 'max_num_predict');
  num('max-images', 'max_images');
  num('max-embed-inputs', 'max_embed_inputs');
  const ka = str(v['max-keep-alive']);
  if (ka !== undefined) {
    if (ka === 'default') out.max_keep_alive = null;
    else if (NO_LIMIT_WORDS.has(ka)) throw new UsageError(`--max-keep-alive ${ka}: a key cannot opt out of clamps.max_keep_alive. Use --max-keep-alive default to follow it, or a duration such as 10m`);
    else {
      const ms = parseDuration(ka);
      if (ms === null || ms === 0) throw new UsageError(`--max-keep-alive: "${ka}" is not a duration (e.g. 10m) or "default"`);
      out.max_keep_alive = ms;
    }
  }
  const aro = str(v['allow-runner-options']);
  if (aro !== undefined) {
    if (aro !== 'true' && aro !== 'false') throw new UsageError('--allow-runner-options takes true or false');
    out.allow_runner_options = aro === 'true';
  }
  return out;
}
