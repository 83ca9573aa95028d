import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';
import { invalidProxyEntries } from '../core/ip.js';
import { ROUTES } from '../routes/table.js';
import { oidcList } from './oidc.js';
import { consoleOidc } from './console.js';

/** Routes whose body Gatehouse reads whole (body_limits.routes keys). */
const BODY_ROUTE_IDS = ROUTES.filter((r) => r.body === 'json' || r.body === 'multipart').map((r) => r.id) as [string, ...string[]];

/**
 * The configuration schema: every key Gatehouse reads, its type and its secure default, in one
 * place. Unknown keys are errors at every level (a setting that is silently ignored is a limit
 * that does not limit: docs/threat-model.md G6). Durations and sizes are written for humans ("30s", "16mb")
 * and come out of parsing as milliseconds and bytes.
 */

/**
 * What editors are told about durations and sizes (`gatehouse config schema`): the JSON Schema
 * keywords below apply to strings (pattern) or numbers (minimum) only, and mirror parseDuration and
 * parseSize (a test keeps them in step). Validation itself stays in the transforms.
 */
export const DURATION_PATTERN = '^\\s*(0|(\\d+(\\.\\d+)?(ms|s|m|h|d|w))+)\\s*$';
export const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(([kKmMgGtT][iI]?)?[bB])?\\s*$';
const durationHint = { description: 'A duration with its unit: "500ms", "30s", "5m", "2h", "7d", "2w" or "1h30m" (0 may be written bare).', pattern: DURATION_PATTERN, minimum: 0 };
const sizeHint = { description: 'A size: "512kb", "16mb", "2gb" (binary multiples; kib, mib, gib too); a number is bytes.', pattern: SIZE_PATTERN, minimum: 0 };

const duration = (def: string) =>
  z
    .union([z.string(), z.number()])
    .meta(durationHint)
    .default(def)
    .transform((v, ctx) => {
      // A bare number is refused (0 aside): `retention: 90` meant 90 days to whoever wrote it and
      // 90 seconds to the parser that guessed a unit.
      if (typeof v === 'number' && v !== 0) {
        ctx.addIssue({ code: 'custom', message: `${v} has no unit: write it with one, e.g. "${v}s", "${v}m", "${v}h" or "${v}d" (units: ms, s, m, h, d, w; 0 needs none)` });
        return z.NEVER;
      }
      const ms = typeof v === 'number' ? 0 : parseDuration(v);
      if (ms === null || !Number.isFinite(ms) || ms < 0) {
        const bare = typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v);
        ctx.addIssue({ code: 'custom', message: bare ? `"${v.trim()}" has no unit: write it with one, e.g. "${v.trim()}s" or "${v.trim()}d" (units: ms, s, m, h, d, w; 0 needs none)` : `not a duration: ${JSON.stringify(v)} (use e.g. "500ms", "30s", "5m", "2h", "7d")` });
        return z.NEVER;
      }
      return ms;
    });

/** A size in bytes, from "16mb" or a number of bytes. */
const toBytes = (v: string | number, ctx: z.RefinementCtx): number => {
  const n = parseSize(v);
  if (n === null) {
    ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(v)} (use e.g. "512kb", "16mb", "2gb"; numbers are bytes)` });
    return z.NEVER;
  }
  return n;
};

/** A size with no default (per-route overrides). */
const sizeValue = () => z.union([z.string(), z.number()]).meta(sizeHint).transform(toBytes);

const size = (def: string) => z.union([z.string(), z.number()]).meta(sizeHint).default(def).transform(toBytes);

/** A per-key limit: a whole number, or null for "none". */
const limitCount = z.number().int().nonnegative().nullable().default(null);

/** host:port, [v6]:port or :port. */
const isListenAddr = (s: string) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/.test(s) && Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535;
/** A port alone (`listen: 11435`, YAML reads it as a number) says nothing about the interface: ask for both. */
const portOnly = (v: unknown) => `${v} is a port alone: use HOST:PORT, e.g. 127.0.0.1:${v} (this machine only) or 0.0.0.0:${v} (every interface)`;
const listenAddr = z.union([z.string(), z.number()]).transform((v, ctx) => {
  if (typeof v === 'string' && isListenAddr(v)) return v;
  const bare = typeof v === 'number' || /^\d{1,5}$/.test(v);
  ctx.addIssue({ code: 'custom', message: bare ? portOnly(v) : 'must be HOST:PORT (e.g. 127.0.0.1:11435, 0.0.0.0:11435, [::1]:11435)' });
  return z.NEVER;
});

const upstreamUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash;
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL with no path, query or credentials, e.g. http://127.0.0.1:11434' },
);

const hostPattern = z.string().min(1).refine((s) => /^(\*\.)?[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:.]+\]$|^[0-9a-fA-F:]+$/.test(s), {
  message: 'must be a host name, *.suffix, or an IP address (no port)',
});

const origin = z.string().refine((s) => s === '*' || /^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/.test(s), {
  message: 'must be an origin like https://app.example.com (scheme://host[:port], no path) or "*"',
});

export const ConfigSchema = z.strictObject({
  /** Where Gatehouse listens. Loopback by default: exposing it is a decision, not an accident. */
  listen: listenAddr.prefault('127.0.0.1:11435'),
  /**
   * The Ollama server behind Gatehouse (one node; default http://127.0.0.1:11434 when `upstreams`
   * is not set either). Setting both is an error (config/load.ts).
   */
  upstream: upstreamUrl.optional(),
  /** Several Ollama servers, routed by which models they have installed and loaded (docs/fleet.md). */
  upstreams: z
    .array(
      z.strictObject({
        /** Shown in audit, metrics, logs and `gatehouse nodes`. */
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { message: 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit' }),
        url: upstreamUrl,
        /** That server's OLLAMA_NUM_PARALLEL: requests it runs at once per loaded model. */
        parallel: z.number().int().min(1).max(1024).default(1),
        /** That server's OLLAMA_MAX_LOADED_MODELS. */
        max_loaded: z.number().int().min(1).max(256).default(1),
      }),
    )
    .min(1)
    .superRefine((list, ctx) => {
      const names = new Set<string>();
      const urls = new Set<string>();
      list.forEach((u, i) => {
        if (names.has(u.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${u.name}" is used by another upstream; names must be unique` });
        names.add(u.name);
        const origin = new URL(u.url).origin;
        if (urls.has(origin)) ctx.addIssue({ code: 'custom', path: [i, 'url'], message: `${origin} is listed twice; each upstream must be a different server` });
        urls.add(origin);
      });
    })
    .optional(),
  /** How requests are spread over `upstreams` (docs/fleet.md). */
  fleet: z
    .strictObject({
      /** Say which node served a request (X-Gatehouse-Node response header). Off: clients learn nothing about the fleet. */
      reveal_nodes: z.boolean().default(false),
      /** Requests waiting for a free slot on a node that has their model, in this process, served round-robin across keys. */
      queue: z
        .strictObject({
          max_size: z.number().int().nonnegative().default(1024),
          max_wait: duration('2m'),
        })
        .prefault({}),
      /** How often each node's loaded models (/api/ps) are read; also the active health probe. */
      ps_interval: duration('2s').refine((ms) => ms >= 200 && ms <= 2000, { message: 'must be between 200ms and 2s' }),
      /** How often each node's installed models (/api/tags) are read (also after every management call). */
      tags_interval: duration('30s').refine((ms) => ms >= 1000 && ms <= 30_000, { message: 'must be between 1s and 30s' }),
      /** Circuit breaker per node: opens after this many failures in a row (a 503 "server busy" opens it at once). */
      breaker_failures: z.number().int().min(1).max(100).default(3),
      /** How long an open breaker first stays open (doubling on each failed half-open trial, up to 16 times this; a Retry-After is honoured). */
      breaker_open: duration('2s').refine((ms) => ms >= 1000 && ms <= 60_000, { message: 'must be between 1s and 1m (shorter lets a node that answers only 503s take more than 5% of its share)' }),
    })
    .prefault({}),
  /** Key store, audit and the initial key live here (created with mode 0700). */
  data_dir: z.string().min(1).default('~/.gatehouse'),
  /**
   * Where keys, usage and audit records live: `sqlite` (a file in data_dir) or a PostgreSQL URL
   * (`postgres://user@host:5432/db?schema=gatehouse`) shared by several Gatehouse replicas.
   */
  store: z
    .string()
    .default('sqlite')
    .refine(
      (s) => {
        if (s === 'sqlite') return true;
        if (!/^postgres(ql)?:\/\//.test(s)) return false;
        try {
          const schema = new URL(s).searchParams.get('schema');
          return schema === null || /^[a-z_][a-z0-9_]{0,39}$/.test(schema);
        } catch {
          return false;
        }
      },
      { message: 'must be "sqlite" or a PostgreSQL URL such as postgres://gatehouse@db:5432/gatehouse (optional ?schema=name: lower-case letters, digits, _)' },
    ),
  tls: z
    .strictObject({
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      /**
       * PEM bundle of the CA(s) that issue client certificates (absolute path). Certificates are
       * then verified against it (and only it); needed for subject-mapped principals and `require`.
       */
      client_ca: z
        .string()
        .min(1)
        .refine((s) => s.startsWith('/') || s.startsWith('~/'), { message: 'must be an absolute path (or ~/…)' })
        .optional(),
      /** Client certificates (mTLS): none = not asked for; optional = asked for, used when sent; require = every connection must send one signed by client_ca. */
      client_auth: z.enum(['none', 'optional', 'require']).default('none'),
    })
    .prefault({})
    .refine((t) => !!t.cert === !!t.key, { message: 'tls.cert and tls.key must be set together' })
    .superRefine((t, ctx) => {
      if (t.client_auth !== 'none' && !t.cert) ctx.addIssue({ code: 'custom', message: `tls.client_auth: ${t.client_auth} needs TLS (tls.cert and tls.key)` });
      if (t.client_auth === 'require' && !t.client_ca) ctx.addIssue({ code: 'custom', message: 'tls.client_auth: require needs tls.client_ca (the CA that issues client certificates; a self-signed client certificate can be its own CA)' });
      if (t.client_ca && t.client_auth === 'none') ctx.addIssue({ code: 'custom', message: 'tls.client_ca has no effect unless tls.client_auth is optional or require' });
    }),
  routes: z
    .strictObject({
      /** pull, push, create, copy, delete, blobs: off unless switched on here (and then need models:manage). */
      manage: z.boolean().default(false),
      /** /api/me, signout, web search/fetch, :cloud models: spend the server owner's ollama.com account. */
      cloud: z.boolean().default(false),
    })
    .prefault({}),
  /** Rules for the model-management routes, when routes.manage is on. */
  manage: z
    .strictObject({
      /** Registries pulls (and create `from`) may fetch from and pushes may publish to. `hf.co` is opt-in. */
      registries: z.array(z.string().regex(/^[a-z0-9][a-z0-9.-]*(:\d{1,5})?$/, 'must be a registry host like registry.ollama.ai or hf.co')).default(['registry.ollama.ai']),
      /** Hosts a created model may name as remote_host (none by default). */
      remote_hosts: z.array(z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'must be a host name')).default([]),
    })
    .prefault({}),
  cors: z
    .strictObject({
      /** Browser origins allowed to call Gatehouse; empty = CORS off (no Access-Control-* headers). */
      origins: z.array(origin).default([]),
      max_age: duration('10m'),
    })
    .prefault({}),
  /**
   * Host header values accepted (DNS-rebinding defence). IP literals and loopback names are always
   * accepted; any other name must be listed (`gw.example.com`, `*.example.com`).
   */
  allowed_hosts: z.array(hostPattern).default([]),
  /** Peers whose X-Forwarded-For / X-Request-Id are believed (IPs or CIDRs). */
  trusted_proxies: z
    .array(z.string().min(1))
    .default([])
    .superRefine((list, ctx) => {
      for (const bad of invalidProxyEntries(list)) ctx.addIssue({ code: 'custom', message: `"${bad}" is not an IP address or CIDR (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)` });
    }),
  /**
   * Path prefix Gatehouse is served under (e.g. "/ollama" when clients use
   * OLLAMA_HOST=https://gw.example.com/ollama). Stripped before routing; Ed25519 signatures cover
   * the path without it.
   */
  base_path: z
    .string()
    .default('')
    .refine((s) => s === '' || /^(\/[A-Za-z0-9._-]+)+$/.test(s), { message: 'must be empty or like "/ollama" (no trailing slash)' }),
  /** Sign-in with OpenID providers: their JWT bearer tokens, mapped to policies by group (config/oidc.ts, auth/oidc/). */
  auth: z
    .strictObject({
      oidc: oidcList(duration),
    })
    .prefault({}),
  ssh: z
    .strictObject({
      /** Accept the ollama CLI's Ed25519-signed requests from registered keys. */
      enabled: z.boolean().default(true),
      /** How far a request's `ts` may be from the gateway's clock, either way. */
      window: duration('5m'),
      /** allow: a token may be reused within the window (CLI-compatible); once: each token is accepted once. */
      replay: z.enum(['allow', 'once']).default('allow'),
      /** Optional sshd-style file: `ssh-ed25519 <b64> <name> <endpoints>` per line; reloaded on change. */
      authorized_keys: z.string().min(1).optional(),
      /** Scopes given to keys from authorized_keys (their endpoint list narrows them further). */
      authorized_keys_scopes: z.array(z.enum(['inference', 'models:read', 'models:manage', 'cloud', 'metrics', 'admin:read', 'admin:keys', 'admin', 'keys:self'])).default(['inference', 'models:read']),
    })
    .prefault({}),
  body_limits: z
    .strictObject({
      json: size('32mb'),
      multipart: size('32mb'),
      blob: size('64gb'),
      /** Per-route overrides of json/multipart, by route id (`chat: 8mb`, `openai.embeddings: 4mb`). */
      routes: z.partialRecord(z.enum(BODY_ROUTE_IDS), sizeValue()).prefault({}),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      /** A client must finish sending headers within this (slowloris). */
      client_headers: duration('15s'),
      /** ...and its whole request body within this, unless it is a blob upload. */
      client_body: duration('60s'),
      /** Keep-alive connections with no request are closed after this. */
      client_idle: duration('75s'),
      upstream_connect: duration('10s'),
      /** Time to first response byte from Ollama: a cold model load can take minutes. */
      upstream_headers: duration('10m'),
      /** Longest silence between two response chunks from Ollama. */
      upstream_body: duration('10m'),
    })
    .prefault({}),
  /**
   * Resource clamps for every request (per-key overrides: `gatehouse keys update --max-num-ctx …`).
   * They stop one request from pinning a GPU: huge contexts, endless generations, models kept
   * loaded forever, giant image or embedding batches (docs/threat-model.md D4).
   */
  clamps: z
    .strictObject({
      /** options.num_ctx above this is refused with 400 (a different value also forces a model reload). */
      max_num_ctx: z.number().int().positive().default(32768),
      /** num_predict / max_tokens / max_output_tokens: absent or above this is set to this. */
      max_num_predict: z.number().int().positive().default(8192),
      /** keep_alive above this is lowered to it; negative (forever) is refused; 0 (unload) needs models:manage. */
      max_keep_alive: duration('1h'),
      /** Images in one request. */
      max_images: z.number().int().nonnegative().default(16),
      /** Inputs in one embedding request. */
      max_embed_inputs: z.number().int().positive().default(512),
    })
    .prefault({}),
  /**
   * Request rates, token quotas, concurrency and the fair queue (docs/limits.md). A key's own
   * limits (`gatehouse keys update --rpm …`) win; `null` there means "use limits.defaults".
   */
  limits: z
    .strictObject({
      /** memory: per process. redis: shared by every replica that uses the same redis.url and key_prefix. */
      backend: z.enum(['memory', 'redis']).default('memory'),
      /** Redis unreachable: closed = refuse with 503 (default); local = enforce per-process limits until it is back. */
      on_store_error: z.enum(['closed', 'local']).default('closed'),
      /** For keys whose own limit is unset. null = no limit; 0 = refuse everything. */
      defaults: z
        .strictObject({
          rpm: limitCount,
          tpm: limitCount,
          tpd: limitCount,
          concurrency: limitCount,
        })
        .prefault({}),
      /** Inference requests in flight across all keys (protects the GPU). */
      global: z.strictObject({ concurrency: limitCount }).prefault({}),
      /** Per-model in-flight caps for inference requests; the first pattern (allowlist syntax) that matches a model applies. */
      models: z
        .record(z.string().min(1).refine((s) => /^[A-Za-z0-9_.:/*-]+$/.test(s), { message: 'must be a model pattern like "llama3*", "qwen2.5:*" or "*"' }), z.strictObject({ concurrency: z.number().int().nonnegative() }))
        .default({}),
      /** Requests that find a concurrency cap full wait here, served round-robin across keys. */
      queue: z
        .strictObject({
          /** Waiting requests in this process; 0 = no queue (refuse at once). */
          max_size: z.number().int().nonnegative().default(256),
          /** Waiting requests of one key in this process. */
          max_per_principal: z.number().int().nonnegative().default(32),
          /** Longest wait before 429 (key's own cap) or 503 (global/model cap). */
          max_wait: duration('30s'),
        })
        .prefault({}),
      /** Failed authentications per client address; past `max` in `window`, failures answer 429. max 0 = off. */
      auth_failures: z
        .strictObject({
          max: z.number().int().nonnegative().default(10),
          window: duration('1m'),
        })
        .prefault({}),
      /** redis backend: a replica that dies holding permits loses them after this long (renewed while held). */
      lease_ttl: duration('30s').refine((ms) => ms >= 3000, { message: 'must be at least 3s' }),
      /**
       * redis backend: how long a replica keeps what it took ahead from Redis (requests, tokens,
       * permits) before unused units go back. 0 = take nothing ahead: every admission is one
       * Redis round trip, and no units are ever parked in a replica.
       */
      reserve_ttl: duration('200ms').refine((ms) => ms === 0 || (ms >= 20 && ms <= 600_000), { message: 'must be 0 (off) or between 20ms and 10m' }),
    })
    .prefault({}),
  /** Connection to Redis (limits.backend: redis). */
  redis: z
    .strictObject({
      url: z
        .string()
        .default('redis://127.0.0.1:6379')
        .refine((s) => /^rediss?:\/\/[^\s]+$/.test(s), { message: 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0' }),
      /** Prefix of every key Gatehouse writes (in Redis Cluster, put a hash tag in it: "{gatehouse}:"). */
      key_prefix: z.string().min(1).default('gatehouse:'),
      connect_timeout: duration('2s'),
      /** A limit check that takes longer counts as a store error (on_store_error). */
      command_timeout: duration('1s'),
    })
    .prefault({}),
  /** The audit log: one record per request, allowed or refused, written in batches off the request path. */
  audit: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Records older than this are deleted automatically; 0 keeps them forever. */
      retention: duration('90d'),
      /** Queued records are written at least this often (a crash loses at most this much). */
      flush_interval: duration('250ms'),
      /** Records per write. */
      batch_size: z.number().int().min(1).max(5000).default(500),
      /** Records waiting to be written; when full, new records are dropped and counted (never blocking requests). */
      queue_size: z.number().int().min(1).max(1_000_000).default(20_000),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /**
       * Prometheus /metrics: HOST:PORT for a separate listener (unauthenticated: keep it on loopback
       * or a private network), `main` to serve it on the main listener to keys with the `metrics`
       * scope only, or `off`.
       */
      listen: z
        .union([z.string(), z.number()])
        .default('127.0.0.1:9464')
        .transform((v, ctx) => {
          if (typeof v === 'string' && (v === 'main' || v === 'off' || isListenAddr(v))) return v;
          const bare = typeof v === 'number' || /^\d{1,5}$/.test(v);
          ctx.addIssue({ code: 'custom', message: bare ? `${portOnly(v)}; or "main" or "off"` : 'must be HOST:PORT (e.g. 127.0.0.1:9464), "main" (the main listener, for keys with the metrics scope) or "off"' });
          return z.NEVER;
        }),
    })
    .prefault({}),
  admin: z
    .strictObject({
      /**
       * The admin API (/admin/v1, keys with the `admin` scope only): `off` (the default: the routes
       * do not exist), `main` to serve it on the main listener, or HOST:PORT for a listener of its
       * own (same TLS, Host and CORS checks; it serves /admin/v1 and nothing else).
       */
      listen: z
        .union([z.string(), z.number()])
        .default('off')
        .transform((v, ctx) => {
          if (typeof v === 'string' && (v === 'main' || v === 'off' || isListenAddr(v))) return v;
          const bare = typeof v === 'number' || /^\d{1,5}$/.test(v);
          ctx.addIssue({ code: 'custom', message: bare ? `${portOnly(v)}; or "main" or "off"` : 'must be HOST:PORT (e.g. 127.0.0.1:11436), "main" (the main listener) or "off"' });
          return z.NEVER;
        }),
      /** The web console at /console/ on the same listener (config/console.ts). */
      console: z
        .strictObject({
          /** Serve the console wherever the admin API is served (admin.listen not off). */
          enabled: z.boolean().default(true),
          /** A session unused this long ends. */
          session_idle: duration('30m').refine((ms) => ms >= 60_000 && ms <= 86_400_000, { message: 'must be between 1m and 24h' }),
          /** A session ends this long after sign-in, used or not. */
          session_max: duration('12h').refine((ms) => ms >= 60_000 && ms <= 30 * 86_400_000, { message: 'must be between 1m and 30d' }),
          /** Sign-in through an OpenID provider under auth.oidc; without it, the console takes an admin key. */
          oidc: consoleOidc,
        })
        .prefault({}),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** auto = pretty when stdout is a terminal, JSON otherwise. */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      /**
       * The access log, one line per request at info: all; refused = only refused requests; off =
       * none. Upstream failures are logged at warn whatever this says (they need the operator).
       */
      requests: z.enum(['all', 'refused', 'off']).default('all'),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
