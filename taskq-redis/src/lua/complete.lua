-- complete: record finished attempts, fenced by their lease; store results, tell waiters.
--
-- KEYS: env, lease, cancel, progress, watch, results, expiry
-- ARGV: now (ms), then 5 per item: id, attempt, ttl_ms (0: keep none), outcome JSON, extra
--       reply channel
-- Returns one 0/1 per item: whether its lease was current.
local now = tonumber(ARGV[1])
local n = (#ARGV - 1) / 5
local function arg(i, f) return ARGV[1 + (i - 1) * 5 + f] end
local ids = {}
for i = 1, n do ids[i] = arg(i, 1) end
local blobs = redis.call('HMGET', KEYS[1], unpack(ids))
local leased = redis.call('ZMSCORE', KEYS[2], unpack(ids))
local ok = {}
local done = {}
local idx = {}
local chans = {}
local seen = {}
for i = 1, n do
  ok[i] = 0
  local a, p, chan = parse(blobs[i])
  if a and leased[i] and not seen[ids[i]] and a == tonumber(arg(i, 2)) then
    ok[i] = 1
    seen[ids[i]] = true
    done[#done + 1] = ids[i]
    idx[#idx + 1] = i
    chans[#chans + 1] = chan
  end
end
if #done > 0 then
  redis.call('ZREM', KEYS[2], unpack(done))
  redis.call('HDEL', KEYS[1], unpack(done))
  local progress = {}
  local watchers = {}
  -- Revocations, progress reports and foreign waiters are rare: one call to see if any exist.
  if redis.call('EXISTS', KEYS[3], KEYS[4], KEYS[5]) > 0 then
    redis.call('SREM', KEYS[3], unpack(done))
    progress = redis.call('HMGET', KEYS[4], unpack(done))
    redis.call('HDEL', KEYS[4], unpack(done))
    watchers = redis.call('HMGET', KEYS[5], unpack(done))
    redis.call('HDEL', KEYS[5], unpack(done))
  end
  for j, i in ipairs(idx) do
    local outcome = arg(i, 4)
    finish(now, ids[i], outcome, tonumber(arg(i, 3)), chans[j], progress[j] or nil,
      watchers[j] or nil)
    local extra = arg(i, 5)
    if extra ~= '' and extra ~= chans[j] then note(extra, ids[i], outcome) end
  end
  flush(KEYS[6], KEYS[7])
end
return ok
