-- complete: record finished attempts, fenced by their lease; store results, tell waiters.
--
-- KEYS: env, lease, cancel, progress, watch, results, expiry, attempt
-- ARGV, 6 per item: id, attempt - 1 (the count of deliveries over at its fetch), expiry of the result (ms; empty: keep none), stored outcome
--       ('{"outcome":..}'), notification entry ('{"id":..,"outcome":..}'), reply channel
-- Returns one 0/1 per item: whether its lease was current.
local n = #ARGV / 6
local function arg(i, f) return ARGV[(i - 1) * 6 + f] end
local ids = {}
for i = 1, n do ids[i] = arg(i, 1) end
local atts = redis.call('HMGET', KEYS[8], unpack(ids))
local leased = redis.call('ZMSCORE', KEYS[2], unpack(ids))
local ok = {}
local done = {}
local idx = {}
local seen = {}
for i = 1, n do
  ok[i] = 0
  local id = ids[i]
  if leased[i] and not seen[id] and (atts[i] or '0') == arg(i, 2) then
    ok[i] = 1
    seen[id] = true
    done[#done + 1] = id
    idx[#idx + 1] = i
  end
end
if #done > 0 then
  redis.call('ZREM', KEYS[2], unpack(done))
  redis.call('HDEL', KEYS[1], unpack(done))
  redis.call('HDEL', KEYS[8], unpack(done))
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
    finish(ids[i], arg(i, 4), arg(i, 5), arg(i, 3), arg(i, 6), nil,
      progress[j] or nil, watchers[j] or nil)
  end
  -- unique: release the finished tasks' unique keys
  unique_release(KEYS[1], done)
  -- flow: their concurrency permits go to the next waiters
  gate_release(string.sub(KEYS[1], 1, -4), done, true)
  flush(KEYS[6], KEYS[7])
end
return ok
