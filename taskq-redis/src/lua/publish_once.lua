-- publish_once: publish each message unless its id went through publish_once within the ttl
-- (a `once` key per id, SET NX PX).
--
-- KEYS: env, wake, delayed, r0 .. r9, attempt, denv, then one `once` key per item
-- ARGV: ttl_ms, then 6 per item: id, priority, due (ms; empty: ready), stored message,
--       attempt (empty: 0), gate line (empty: no limits; see backend/flow.rs)
local n = 0
local item = 0
local gate_key = string.sub(KEYS[1], 1, -4) .. 'gate'
for i = 2, #ARGV, 6 do
  item = item + 1
  if redis.call('SET', KEYS[15 + item], '1', 'NX', 'PX', ARGV[1]) then
    local id = ARGV[i]
    if ARGV[i + 4] ~= '' then redis.call('HSET', KEYS[14], id, ARGV[i + 4]) end
    if ARGV[i + 5] ~= '' then redis.call('HSET', gate_key, id, ARGV[i + 5]) end
    if ARGV[i + 2] == '' then
      redis.call('HSET', KEYS[1], id, ARGV[i + 3])
      redis.call('RPUSH', KEYS[4 + tonumber(ARGV[i + 1])], id)
    else
      -- not due yet: waits in `denv` (the fetch moves it to `env` when due)
      redis.call('HSET', KEYS[15], id, ARGV[i + 3])
      redis.call('ZADD', KEYS[3], ARGV[i + 2], id)
    end
    n = n + 1
  end
end
if n > 0 then wake(KEYS[2]) end
return n
