import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { resolveConfigPaths, resolvePath } from './paths.js';
import { ConfigSchema, type Config } from './schema.js';
import { whoAmI } from './who.js';

/**
 * Builds the configuration from, in increasing precedence: the YAML file, `GATEHOUSE_*`
 * environment variables, then command-line flags. Validates everything at once and returns every
 * problem by field name (never just the first), or a deep-frozen Config. Pure apart from reading
 * the file: no globals are touched.
 */

/**
 * The config file every command finds when nothing names another: the one the systemd unit uses,
 * so that `sudo -u gatehouse gatehouse keys …` reaches the store the service reads.
 */
export const SYSTEM_CONFIG = '/etc/gatehouse/gatehouse.yaml';

export interface LoadInput {
  /** `--config FILE`; otherwise GATEHOUSE_CONFIG; otherwise ./gatehouse.yaml, then SYSTEM_CONFIG, if present. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Flag overrides, already mapped to config paths (e.g. { listen: '0.0.0.0:80' }). */
  flags?: Record<string, unknown>;
  cwd?: string;
  /** The last place looked at (default SYSTEM_CONFIG; null = none). Tests point it elsewhere. */
  systemConfig?: string | null;
}

/** One place a config file was looked for, and what was found there (for "which store?" messages). */
export interface ConfigLookup {
  /** `--config`, `$GATEHOUSE_CONFIG`, `./gatehouse.yaml` or the system path. */
  source: string;
  path: string | null;
  /** used: this file was read; absent/not-set: nothing there; unreadable: could not look (permissions). */
  result: 'used' | 'absent' | 'not given' | 'not set' | 'unreadable';
  why?: string;
}

export interface Loaded {
  config: Config;
  /** The file actually read, if any. */
  file: string | null;
  /** Things worth saying that do not stop Gatehouse (e.g. GATEHOUSE_* variables that name no setting). */
  warnings: string[];
  /** Every place a config file was looked for, in order. */
  lookups: ConfigLookup[];
  /** Where data_dir came from: a flag, an environment variable, the config file, or the default. */
  dataDirFrom: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[], readonly file: string | null) {
    super(`invalid configuration${file ? ` in ${file}` : ''}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const ENV_PREFIX = 'GATEHOUSE_';
/** Env vars that are not config keys. */
// GATEHOUSE_URL and GATEHOUSE_TOKEN: the CLI's --url/--token (cli/admin-client.ts), never configuration.
const ENV_NOT_CONFIG = new Set(['GATEHOUSE_CONFIG', 'GATEHOUSE_URL', 'GATEHOUSE_TOKEN']);
const TOP_LEVEL_KEYS = new Set(Object.keys(ConfigSchema.shape));

export function loadConfig(input: LoadInput = {}): Loaded {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const problems: string[] = [];

  const { file, lookups } = findConfigFile(input.configPath, env.GATEHOUSE_CONFIG, cwd, input.systemConfig === undefined ? SYSTEM_CONFIG : input.systemConfig);

  let raw: Record<string, unknown> = {};
  if (file) {
    try {
      if (!statSync(file).isFile()) throw new Error('not a regular file');
      const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
      if (parsed === null || parsed === undefined) raw = {};
      else if (typeof parsed === 'object' && !Array.isArray(parsed)) raw = parsed as Record<string, unknown>;
      else problems.push(`${file}: the top level must be a mapping of keys to values`);
    } catch (err) {
      problems.push(unreadableConfig(file, lookups.at(-1)!.source, err as NodeJS.ErrnoException));
    }
  }

  const origin = new Map<string, string>();
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_NOT_CONFIG.has(name) || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    if (path.some((p) => p === '')) {
      problems.push(`environment variable ${name}: empty key segment`);
      continue;
    }
    // Other tools share the prefix (the benchmark harness sets GATEHOUSE_REPO): a plain name that
    // is no setting is reported, not fatal. A nested path (GATEHOUSE_AUTH__ENABLED,
    // GATEHOUSE_ROUTES__MANGE) is unmistakably meant as configuration and is validated like a file
    // key, so it fails when it names nothing.
    if (path.length === 1 && !TOP_LEVEL_KEYS.has(path[0]!)) {
      warnings.push(`environment variable ${name} does not name a setting; ignored`);
      continue;
    }
    setPath(raw, path, envValue(value));
    origin.set(path.join('.'), `environment variable ${name}`);
  }
  for (const [dotted, value] of Object.entries(input.flags ?? {})) {
    if (value === undefined) continue;
    setPath(raw, dotted.split('.'), value);
    origin.set(dotted, `flag --${dotted.replace(/_/g, '-')}`);
  }

  if (problems.length) throw new ConfigError(problems, file);
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const at = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          const full = at ? `${at}.${k}` : k;
          const from = origin.get(full);
          problems.push(`${full}: unknown key${from ? ` (from ${from})` : ''}; see "Configuration" in the README for the keys that exist`);
        }
      } else {
        const from = origin.get(at);
        problems.push(`${at || '(top level)'}: ${issue.message}${from ? ` (from ${from})` : ''}`);
      }
    }
    throw new ConfigError(problems, file);
  }
  const config = result.data;
  if (config.upstream !== undefined && config.upstreams !== undefined) {
    const from = origin.get('upstream');
    throw new ConfigError([`upstream${from ? ` (from ${from})` : ''} and upstreams are both set: use upstream for one Ollama server or upstreams for several, not both`], file);
  }
  const consoleIssuer = config.admin.console.oidc?.issuer;
  if (consoleIssuer !== undefined && !config.auth.oidc.some((o) => o.issuer === consoleIssuer)) {
    throw new ConfigError([`admin.console.oidc.issuer: ${consoleIssuer} is not one of the issuers under auth.oidc; the console signs people in with a provider whose tokens (and rules) are configured there`], file);
  }
  const dataDirFrom = origin.get('data_dir') ?? (raw.data_dir !== undefined && file ? `the config file ${file}` : 'the default (~/.gatehouse)');
  // One rule for every path setting (config/paths.ts): relative to the config file when written
  // there, to the current directory when given by a flag or variable.
  resolveConfigPaths(config as unknown as Record<string, unknown>, (key) => !origin.has(key), file, cwd);
  return { config: deepFreeze(config), file, warnings, lookups, dataDirFrom };
}

/**
 * The config file, looked for in order: `--config`, `$GATEHOUSE_CONFIG` (both must exist when
 * given), `./gatehouse.yaml`, then the system path. Every place looked at is reported, so that a
 * command that finds no store can say where it looked.
 */
export function findConfigFile(flag: string | undefined, envPath: string | undefined, cwd: string, systemConfig: string | null): { file: string | null; lookups: ConfigLookup[] } {
  const lookups: ConfigLookup[] = [];
  const explicit = (source: string, given: string) => {
    const path = resolvePath(given, cwd);
    lookups.push({ source, path, result: 'used' });
    return { file: path, lookups };
  };
  if (flag) return explicit('--config', flag);
  lookups.push({ source: '--config', path: null, result: 'not given' });
  if (envPath) return explicit('$GATEHOUSE_CONFIG', envPath);
  lookups.push({ source: '$GATEHOUSE_CONFIG', path: null, result: 'not set' });
  const implicit = [{ source: './gatehouse.yaml', path: resolve(cwd, 'gatehouse.yaml') }, ...(systemConfig ? [{ source: systemConfig, path: systemConfig }] : [])];
  for (const { source, path } of implicit) {
    try {
      statSync(path);
      lookups.push({ source, path, result: 'used' });
      return { file: path, lookups };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EACCES: a directory on the way cannot be searched by this user (e.g. /etc/gatehouse is
      // 0750 root:gatehouse and this is not the gatehouse user): say so rather than "absent".
      if (code === 'EACCES') lookups.push({ source, path, result: 'unreadable', why: `${dirname(path)} cannot be searched by ${whoAmI()}` });
      else lookups.push({ source, path, result: 'absent' });
    }
  }
  return { file: null, lookups };
}

function unreadableConfig(file: string, source: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `the config file ${file} (from ${source}) does not exist: check the path, or leave ${source} out to use ./gatehouse.yaml or ${SYSTEM_CONFIG}`;
  if (err.code === 'EACCES') {
    let owner = '';
    try {
      const st = statSync(file);
      owner = ` (owner uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`;
    } catch {
      /* the directory itself cannot be searched */
    }
    return `${whoAmI()} cannot read the config file ${file}${owner}: run the command as the user the gateway runs as (e.g. sudo -u gatehouse gatehouse ...), or make the file readable to this user`;
  }
  return `cannot read the config file ${file} (from ${source}): ${err.message}`;
}

/** The lookups as lines for a message: "  ./gatehouse.yaml  /srv/gatehouse.yaml: absent". */
export function describeLookups(lookups: readonly ConfigLookup[]): string[] {
  return lookups.map((l) => {
    const where = l.path && l.path !== l.source ? `${l.source} (${l.path})` : l.source;
    return `${where}: ${l.result === 'unreadable' ? `could not look: ${l.why}` : l.result}`;
  });
}

/** Env values are strings; booleans, numbers and `[a, b]` lists are recognised, the rest stay text. */
function envValue(v: string): unknown {
  const t = v.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t.startsWith('[') && t.endsWith(']')) {
    try {
      const parsed: unknown = parseYaml(t);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      /* fall through: keep as text, the schema will say what it expected */
    }
  }
  return v;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = node[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      const fresh: Record<string, unknown> = {};
      node[k] = fresh;
      node = fresh;
    } else node = next as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
