import { createHash } from 'node:crypto';

/**
 * The Redis side of the limits. Every decision runs inside one Lua script, so it is atomic on the
 * server (no read-then-write race between replicas). The algorithms are those of memory-store.ts,
 * line for line. Times are milliseconds from the gateway's clock (replicas must be NTP-synced: a
 * skew of s seconds shifts refills by s seconds). Every key gets a TTL.
 *
 * To keep Redis off the critical path, a replica sends the admissions and settlements that arrive
 * in one event-loop turn as one BATCH call, applied in arrival order.
 *
 * Keys (P = redis.key_prefix + "limits:"):
 *   P p:<id>            hash: rl/rt (rpm bucket level/time), tl/tt (tpm bucket level/time)
 *   P p:<id>:tpd:<day>  string: tokens used on that UTC day
 *   P p:<id>:cc         zset: the key's permits (lease id → expiry)
 *   P cc:m:<model>      zset: that model's permits
 *   P cc:global         zset: all inference permits
 *   P waiters           flag: some replica has queued requests (publish on release)
 *   P released          pub/sub channel: a permit was freed
 *   P af:<window>:<ip>  failed authentications from an address in a window
 */

export interface Script {
  readonly text: string;
  readonly sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

/**
 * KEYS[1] global permits, KEYS[2] waiters flag, then per operation only the keys it uses:
 *   admit    bucket hash (rpm or tpm), tpd counter (tpd), key permits (concurrency), model permits…
 *   release  bucket hash (tpm), tpd counter (tpd), permit sets…
 * ARGV[1] now, ARGV[2] channel, ARGV[3] replica id, then one comma-separated string per operation
 * (few arguments: the client's cost is per argument):
 *   admit    a,#models,rpm,tpm,tpd,tokens,concurrency,global,lease,lease expiry,day end,model caps…
 *   release  r,#permits,tpm,tpm reserved,actual tokens,tpd reserved,lease
 * (-1 = not limited.) Returns one comma-separated string with 10 numbers per admission, in order:
 *   ok, blocker (1 rpm 2 tpm 3 tpd 4 key 5 model 6 global), retry ms,
 *   rpm remaining, rpm reset ms, tpm remaining, tpm reset ms, tpd remaining, tpd reset ms, model index.
 */
export const BATCH = script(`
local MIN = 60000
local now = tonumber(ARGV[1])
local GLOBAL, WAITERS = KEYS[1], KEYS[2]

local function refill(l, t, cap)
  if not l then return cap end
  if now > t then
    l = math.min(cap, l + (now - t) * cap / MIN)
  elseif l > cap then
    l = cap
  end
  return l
end
local function waitms(l, need, cap)
  if l >= need or cap <= 0 then return 0 end
  return math.ceil((need - l) * MIN / cap)
end
local function rem(l)
  if l < 0 then return 0 end
  return math.floor(l)
end
local function count(key, cap)
  local n = redis.call('ZCARD', key)
  if n >= cap and n > 0 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    n = redis.call('ZCARD', key)
  end
  return n
end

local out = {}
local freed = 0
local k = 3
for a = 4, #ARGV do
  local f = {}
  for v in string.gmatch(ARGV[a], '[^,]+') do f[#f + 1] = v end
  local op = f[1]
  if op == 'a' then
    local nm = tonumber(f[2])
    local rpm, tpm, tpd = tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
    local tokens, conc, glob = tonumber(f[6]), tonumber(f[7]), tonumber(f[8])
    local lease, exp, dayEnd = f[9], tonumber(f[10]), tonumber(f[11])
    local useT = tokens >= 0 and tpm >= 0
    -- Only the keys this admission uses are passed: bucket, tpd counter, key permits, models.
    local bucket, tpdKey, ccKey
    if rpm >= 0 or useT then bucket = KEYS[k]; k = k + 1 end
    if tokens >= 0 and tpd >= 0 then tpdKey = KEYS[k]; k = k + 1 end
    if conc >= 0 then ccKey = KEYS[k]; k = k + 1 end
    local m0 = k - 1
    k = k + nm
    local r = {0, 0, 0, -1, 0, -1, 0, -1, 0, 0}
    local rl, tl, tn, used, dn = 0, 0, 0, 0, 0
    local ok = true
    local h
    if rpm >= 0 or useT then h = redis.call('HMGET', bucket, 'rl', 'rt', 'tl', 'tt') end
    if rpm >= 0 then
      rl = refill(tonumber(h[1]), tonumber(h[2]), rpm)
      r[4] = rem(rl); r[5] = waitms(rl, rpm, rpm)
      if rpm == 0 then r[2] = 1; r[3] = MIN; ok = false
      elseif rl < 1 then r[2] = 1; r[3] = waitms(rl, 1, rpm); ok = false end
    end
    if ok and useT then
      tl = refill(tonumber(h[3]), tonumber(h[4]), tpm)
      tn = math.min(tokens, tpm)
      r[6] = rem(tl); r[7] = waitms(tl, tpm, tpm)
      if tpm == 0 then r[2] = 2; r[3] = MIN; ok = false
      elseif tl < tn then r[2] = 2; r[3] = waitms(tl, tn, tpm); ok = false end
    end
    if ok and tokens >= 0 and tpd >= 0 then
      used = tonumber(redis.call('GET', tpdKey) or '0')
      dn = math.min(tokens, tpd)
      r[8] = math.max(0, tpd - used); r[9] = dayEnd - now
      if tpd == 0 or used + dn > tpd then r[2] = 3; r[3] = dayEnd - now; ok = false end
    end
    if ok and conc >= 0 and count(ccKey, conc) >= conc then r[2] = 4; ok = false end
    if ok then
      for i = 1, nm do
        local cap = tonumber(f[11 + i])
        if count(KEYS[m0 + i], cap) >= cap then r[2] = 5; r[10] = i; ok = false; break end
      end
    end
    if ok and glob >= 0 and count(GLOBAL, glob) >= glob then r[2] = 6; ok = false end
    if ok then
      r[1] = 1
      if rpm >= 0 or useT then
        local full = 0
        if rpm >= 0 then
          rl = rl - 1
          r[4] = rem(rl); r[5] = waitms(rl, rpm, rpm); full = r[5]
          redis.call('HSET', bucket, 'rl', tostring(rl), 'rt', now)
        end
        if useT then
          tl = tl - tn
          r[6] = rem(tl); r[7] = waitms(tl, tpm, tpm); full = math.max(full, r[7])
          redis.call('HSET', bucket, 'tl', tostring(tl), 'tt', now)
        end
        -- Only ever lengthen: the other bucket in the hash may need longer (a tpm debt).
        if redis.call('PTTL', bucket) < full + 1000 then redis.call('PEXPIRE', bucket, full + 1000) end
      end
      if tokens >= 0 and tpd >= 0 then
        used = redis.call('INCRBY', tpdKey, dn)
        if used == dn then redis.call('PEXPIRE', tpdKey, dayEnd - now + 86400000) end
        r[8] = math.max(0, tpd - used)
      end
      local ttl = exp - now + 60000
      if conc >= 0 then redis.call('ZADD', ccKey, exp, lease); redis.call('PEXPIRE', ccKey, ttl) end
      if glob >= 0 then redis.call('ZADD', GLOBAL, exp, lease); redis.call('PEXPIRE', GLOBAL, ttl) end
      for i = 1, nm do redis.call('ZADD', KEYS[m0 + i], exp, lease); redis.call('PEXPIRE', KEYS[m0 + i], ttl) end
    end
    for i = 1, 10 do out[#out + 1] = string.format('%d', r[i]) end
  elseif op == 'r' then
    local np = tonumber(f[2])
    local tpm, tres, actual, dres, lease = tonumber(f[3]), tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), f[7]
    local bucket, tpdKey
    if tpm >= 0 then bucket = KEYS[k]; k = k + 1 end
    if dres >= 0 then tpdKey = KEYS[k]; k = k + 1 end
    if tpm >= 0 and (tres > 0 or actual > 0) then
      local h = redis.call('HMGET', bucket, 'tl', 'tt')
      local l = math.min(tpm, refill(tonumber(h[1]), tonumber(h[2]), tpm) + tres - actual)
      redis.call('HSET', bucket, 'tl', tostring(l), 'tt', now)
      local ttl = redis.call('PTTL', bucket)
      local full = waitms(l, tpm, tpm) + 1000
      if ttl < full then redis.call('PEXPIRE', bucket, full) end
    end
    if dres >= 0 and actual ~= dres then
      local used = redis.call('INCRBY', tpdKey, actual - dres)
      if used == actual - dres then redis.call('PEXPIRE', tpdKey, 2 * 86400000) end
    end
    for i = 1, np do freed = freed + redis.call('ZREM', KEYS[k - 1 + i], lease) end
    k = k + np
  else
    return redis.error_reply('gatehouse: bad batch operation ' .. tostring(op))
  end
end
if freed > 0 and redis.call('EXISTS', WAITERS) == 1 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return table.concat(out, ',')
`);

/** KEYS: permit sets; ARGV: expiry, lease, key ttl. Extends a held lease (never re-creates a lost one). */
export const RENEW = script(`
local n = 0
for i = 1, #KEYS do
  n = n + redis.call('ZADD', KEYS[i], 'XX', 'CH', ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3]))
end
return n
`);

/** KEYS: counter; ARGV: window ms. A fixed-window counter (failed authentications per address). */
export const COUNT = script(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`);
