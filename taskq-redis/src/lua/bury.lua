-- bury: a leased message whose envelope does not decode goes to the dead letters as it was
-- ("R|at|id|raw"), fenced by its lease; waiters get the rejection.
--
-- KEYS: env, lease, cancel, progress, watch, dead, results, expiry
-- ARGV: id, attempt, ttl_ms, outcome JSON, now (ms)
local id = ARGV[1]
local blob, a, p, chan, js = fenced(KEYS[1], KEYS[2], id, ARGV[2])
if not blob then return 0 end
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[1], id)
redis.call('SREM', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
local w = redis.call('HGET', KEYS[5], id)
if w then redis.call('HDEL', KEYS[5], id) end
redis.call('RPUSH', KEYS[6], 'R|' .. ARGV[5] .. '|' .. id .. '|' .. string.sub(blob, js + 1))
finish(tonumber(ARGV[5]), id, ARGV[4], tonumber(ARGV[3]), chan, nil, w or nil)
flush(KEYS[7], KEYS[8])
return 1
