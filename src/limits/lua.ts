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
 *   give     bucket hash
 *   drop     one permit set
 * ARGV[1] now, ARGV[2] channel, ARGV[3] replica id, then one comma-separated string per operation
 * (few arguments: the client's cost is per argument):
 *   admit    a,#models,rpm,tpm,tpd,tokens,concurrency,global,lease,lease expiry,day end,refresh,
 *            extra requests (rpm),extra requests (tpm),extra permits,which sets,model caps…
 *   release  r,#permits,tpm,tpm reserved,actual tokens,tpd reserved,member per permit set…
 *   give     g,rpm,tpm,rpm units,tpm tokens        (units a replica took ahead and did not use)
 *   drop     z,#members,member…                     (permits a replica took ahead and did not use)
 * (-1 = not limited.) `refresh` has one character per permit set the admission uses (key, global,
 * then each model, in that order; '0' when it uses none): '1' asks for that set's TTL to be
 * renewed (the replica does so at most every 10 s per set). `which sets` is the same shape:
 * '1' = take extra permits of that set.
 * The extras are the replica's local reserve (redis-reserve.ts): once this admission is granted,
 * it also takes up to that many more requests' worth of each limit, but only while at least 64
 * requests' worth (64 permits) is left, and never more than a sixteenth of it: close to a limit
 * nothing is taken ahead and every decision is made here. Small limits (under 64 requests' worth)
 * are therefore always decided here, one request at a time.
 * Returns one comma-separated string per admission, in order:
 *   ok, blocker (1 rpm 2 tpm 3 tpd 4 key 5 model 6 global), retry ms,
 *   rpm remaining, rpm reset ms, tpm remaining, tpm reset ms, tpd remaining, tpd reset ms, model index,
 *   extra rpm units, extra tpm tokens, then extra permits per permit set (key, global, models).
 * Extra permits are members `<lease>:<n>` of the set, n = 1…
 *
 * Redis CPU is mostly the cost of each redis.call (measured: ~11 calls per request cost ~28 µs of
 * Redis CPU, most of it outside the commands themselves), so calls are kept few: a bucket hash
 * carries its own expiry deadline in field x (read with the levels; PEXPIRE only when the deadline
 * must move, then with 30 s to spare), both buckets are written by one HSET, and a permit set's
 * TTL is set when the set is created or when the replica asks (refresh). An admission is then
 * HMGET + HSET + ZCARD + ZADD per limit kind, a release HMGET + HSET + ZREM.
 */
export const BATCH = script(`
local MIN = 60000
local SLACK = 30000
local call = redis.call
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
  local n = call('ZCARD', key)
  if n >= cap and n > 0 then
    call('ZREMRANGEBYSCORE', key, '-inf', now)
    n = call('ZCARD', key)
  end
  return n
end
-- Writes a bucket hash; moves its expiry (kept in field x) only when the state needs longer.
local function save(bucket, hs, x, need)
  x = tonumber(x) or 0
  local later = need > x
  if later then
    x = need + SLACK
    hs[#hs + 1] = 'x'; hs[#hs + 1] = x
  end
  call('HSET', bucket, unpack(hs))
  if later then call('PEXPIRE', bucket, x - now) end
end
-- Adds a lease (and up to 'want' more permits, if the cap leaves room for them ahead of demand) to
-- a permit set; a new set (n == 0) or a requested refresh sets the set's TTL. Returns the extras.
local function hold(key, n, cap, exp, lease, ttl, refresh, want)
  local extra = 0
  -- Only with at least 64 permits free after this one, and at most a sixteenth of them.
  if want > 0 and cap - n - 1 >= 64 then extra = math.min(want, math.floor((cap - n - 1) / 16)) end
  if extra > 0 then
    local z = {exp, lease}
    for j = 1, extra do z[#z + 1] = exp; z[#z + 1] = lease .. ':' .. j end
    call('ZADD', key, unpack(z))
  else
    call('ZADD', key, exp, lease)
  end
  if n == 0 or refresh then call('PEXPIRE', key, ttl) end
  return extra
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
    local lease, exp, dayEnd, rf = f[9], tonumber(f[10]), tonumber(f[11]), f[12]
    local xr, xt, xc, xs = tonumber(f[13]), tonumber(f[14]), tonumber(f[15]), f[16]
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
    local nk, ng = 0, 0
    local nms = {}
    local ok = true
    local h
    if bucket then h = call('HMGET', bucket, 'rl', 'rt', 'tl', 'tt', 'x') end
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
      used = tonumber(call('GET', tpdKey) or '0')
      dn = math.min(tokens, tpd)
      r[8] = math.max(0, tpd - used); r[9] = dayEnd - now
      if tpd == 0 or used + dn > tpd then r[2] = 3; r[3] = dayEnd - now; ok = false end
    end
    if ok and conc >= 0 then
      nk = count(ccKey, conc)
      if nk >= conc then r[2] = 4; ok = false end
    end
    if ok then
      for i = 1, nm do
        local cap = tonumber(f[16 + i])
        nms[i] = count(KEYS[m0 + i], cap)
        if nms[i] >= cap then r[2] = 5; r[10] = i; ok = false; break end
      end
    end
    if ok and glob >= 0 then
      ng = count(GLOBAL, glob)
      if ng >= glob then r[2] = 6; ok = false end
    end
    local er, et = 0, 0
    local ex = {}
    if ok then
      r[1] = 1
      if bucket then
        local full = 0
        local hs = {}
        if rpm >= 0 then
          rl = rl - 1
          r[4] = rem(rl); r[5] = waitms(rl, rpm, rpm)
          if xr > 0 and rl >= 64 then er = math.min(xr, math.floor(rl / 16)); rl = rl - er end
          full = waitms(rl, rpm, rpm)
          hs[1] = 'rl'; hs[2] = tostring(rl); hs[3] = 'rt'; hs[4] = now
        end
        if useT then
          tl = tl - tn
          r[6] = rem(tl); r[7] = waitms(tl, tpm, tpm)
          -- Whole requests' worth only, so that a reserve is never left with a useless fraction.
          if xt > 0 and tn > 0 and tl >= 64 * tn then et = tn * math.min(xt, math.floor(tl / 16 / tn)); tl = tl - et end
          full = math.max(full, waitms(tl, tpm, tpm))
          hs[#hs + 1] = 'tl'; hs[#hs + 1] = tostring(tl); hs[#hs + 1] = 'tt'; hs[#hs + 1] = now
        end
        -- The deadline only ever moves later: the other bucket in the hash may need longer.
        save(bucket, hs, h[5], now + full + 1000)
      end
      if tokens >= 0 and tpd >= 0 then
        used = call('INCRBY', tpdKey, dn)
        if used == dn then call('PEXPIRE', tpdKey, dayEnd - now + 86400000) end
        r[8] = math.max(0, tpd - used)
      end
      local ttl = exp - now + 60000
      -- Permit sets in order (key, global, models): the j-th one reads the j-th flag of each string.
      local function renew(j) return string.byte(rf, j) == 49 end
      local function want(j) if string.byte(xs, j) == 49 then return xc end return 0 end
      local j = 0
      if conc >= 0 then j = j + 1; ex[j] = hold(ccKey, nk, conc, exp, lease, ttl, renew(j), want(j)) end
      if glob >= 0 then j = j + 1; ex[j] = hold(GLOBAL, ng, glob, exp, lease, ttl, renew(j), want(j)) end
      for i = 1, nm do j = j + 1; ex[j] = hold(KEYS[m0 + i], nms[i], tonumber(f[16 + i]), exp, lease, ttl, renew(j), want(j)) end
    else
      local sets = nm
      if conc >= 0 then sets = sets + 1 end
      if glob >= 0 then sets = sets + 1 end
      for i = 1, sets do ex[i] = 0 end
    end
    out[#out + 1] = string.format('%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d', r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], er, et)
    for i = 1, #ex do out[#out + 1] = ex[i] end
  elseif op == 'r' then
    local np = tonumber(f[2])
    local tpm, tres, actual, dres = tonumber(f[3]), tonumber(f[4]), tonumber(f[5]), tonumber(f[6])
    local bucket, tpdKey
    if tpm >= 0 then bucket = KEYS[k]; k = k + 1 end
    if dres >= 0 then tpdKey = KEYS[k]; k = k + 1 end
    if tpm >= 0 and (tres > 0 or actual > 0) then
      local h = call('HMGET', bucket, 'tl', 'tt', 'x')
      local l = math.min(tpm, refill(tonumber(h[1]), tonumber(h[2]), tpm) + tres - actual)
      save(bucket, {'tl', tostring(l), 'tt', now}, h[3], now + waitms(l, tpm, tpm) + 1000)
    end
    if dres >= 0 and actual ~= dres then
      local used = call('INCRBY', tpdKey, actual - dres)
      if used == actual - dres then call('PEXPIRE', tpdKey, 2 * 86400000) end
    end
    for i = 1, np do freed = freed + call('ZREM', KEYS[k - 1 + i], f[6 + i]) end
    k = k + np
  elseif op == 'g' then
    local rpm, tpm, ur, ut = tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
    local bucket = KEYS[k]; k = k + 1
    local h = call('HMGET', bucket, 'rl', 'rt', 'tl', 'tt', 'x')
    local hs = {}
    local full = 0
    if rpm >= 0 and ur ~= 0 then
      local l = math.min(rpm, refill(tonumber(h[1]), tonumber(h[2]), rpm) + ur)
      hs[1] = 'rl'; hs[2] = tostring(l); hs[3] = 'rt'; hs[4] = now
      full = waitms(l, rpm, rpm)
    end
    if tpm >= 0 and ut ~= 0 then
      local l = math.min(tpm, refill(tonumber(h[3]), tonumber(h[4]), tpm) + ut)
      hs[#hs + 1] = 'tl'; hs[#hs + 1] = tostring(l); hs[#hs + 1] = 'tt'; hs[#hs + 1] = now
      full = math.max(full, waitms(l, tpm, tpm))
    end
    if #hs > 0 then save(bucket, hs, h[5], now + full + 1000) end
  elseif op == 'z' then
    local set = KEYS[k]; k = k + 1
    local m = {}
    for i = 3, #f do m[#m + 1] = f[i] end
    if #m > 0 then freed = freed + call('ZREM', set, unpack(m)) end
  else
    return redis.error_reply('gatehouse: bad batch operation ' .. tostring(op))
  end
end
if freed > 0 and call('EXISTS', WAITERS) == 1 then call('PUBLISH', ARGV[2], ARGV[3]) end
return table.concat(out, ',')
`);

/**
 * KEYS: permit sets; ARGV: expiry, key ttl, then the lease's member in each set. Extends a held
 * lease (never re-creates a lost one).
 */
export const RENEW = script(`
local n = 0
for i = 1, #KEYS do
  n = n + redis.call('ZADD', KEYS[i], 'XX', 'CH', ARGV[1], ARGV[2 + i])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2]))
end
return n
`);

/** KEYS: counter; ARGV: window ms. A fixed-window counter (failed authentications per address). */
export const COUNT = script(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`);
