/**
 * wrk as the closed-loop generator for S1/S2 when it is installed. The Lua script below sets the
 * method, body and Authorization header from env, histograms one response header (in µs) for every
 * target alike (so the client's cost is the same for all; measured: no visible change in wrk's
 * rate), and prints one JSON line when wrk is done.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runJson } from './children.js';

const LUA = String.raw`
local body_file = os.getenv("BENCH_BODY_FILE")
local auth = os.getenv("BENCH_AUTH")
local hname = os.getenv("BENCH_SAMPLE_HEADER") or "x-none"
wrk.method = os.getenv("BENCH_METHOD") or "GET"
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

local threads = {}
function setup(thread) table.insert(threads, thread) end

hist = {}
function response(status, headers, body)
  local v = headers[hname]
  if v then
    local x = tonumber(v)
    if x then
      local us = math.floor(x * 1000 + 0.5)
      hist[us] = (hist[us] or 0) + 1
    end
  end
end

local function header_summary()
  local merged, n, sum = {}, 0, 0
  for _, t in ipairs(threads) do
    local h = t:get("hist")
    if h then
      for k, c in pairs(h) do merged[k] = (merged[k] or 0) + c; n = n + c; sum = sum + k * c end
    end
  end
  if n == 0 then return "null" end
  local keys = {}
  for k in pairs(merged) do keys[#keys + 1] = k end
  table.sort(keys)
  local function q(p)
    local want, acc = math.max(1, math.ceil(p / 100 * n)), 0
    for _, k in ipairs(keys) do acc = acc + merged[k]; if acc >= want then return k / 1000 end end
    return keys[#keys] / 1000
  end
  return string.format('{"n":%d,"mean":%.3f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f}',
    n, sum / n / 1000, q(50), q(90), q(99), q(99.9), keys[#keys] / 1000)
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"tool":"wrk","requests":%d,"duration_s":%.3f,"rps":%.1f,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f,"mean":%.3f},"header":{"name":"%s","ms":%s}}\n',
    summary.requests, s, summary.requests / s, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000, hname, header_summary()))
end
`;

export interface HttpLoad {
  url: string;
  path: string;
  method: 'GET' | 'POST';
  body: string | null;
  token: string | null;
  connections: number;
  threads: number;
  durationS: number;
  sampleHeader: string;
}

/** Runs wrk and returns its result in the shape of load/closed.ts (requests, rps, non2xx, errors, latency_ms, header). */
export async function wrk(bin: string, dir: string, l: HttpLoad): Promise<Record<string, unknown>> {
  const script = join(dir, 'wrk-bench.lua');
  writeFileSync(script, LUA);
  let bodyFile = '';
  if (l.body !== null) {
    bodyFile = join(dir, `body-${l.path.replace(/\W+/g, '_')}.json`);
    writeFileSync(bodyFile, l.body);
  }
  const r = await runJson(bin, ['-t', String(l.threads), '-c', String(l.connections), '-d', `${l.durationS}s`, '--timeout', '10s', '-s', script, l.url + l.path], {
    env: {
      ...process.env, BENCH_METHOD: l.method, BENCH_BODY_FILE: bodyFile, BENCH_AUTH: l.token ? `Bearer ${l.token}` : '',
      BENCH_SAMPLE_HEADER: l.sampleHeader,
    },
    timeoutMs: (l.durationS + 30) * 1000,
  });
  const e = r.errors as Record<string, number>;
  const non2xx = e.status ?? 0;
  return { ...r, ok: (r.requests as number) - non2xx, non2xx, errors: (e.connect ?? 0) + (e.read ?? 0) + (e.write ?? 0) + (e.timeout ?? 0), error_kinds: e };
}
