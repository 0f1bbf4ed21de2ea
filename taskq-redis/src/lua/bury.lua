-- bury: a leased message whose envelope does not decode goes to the dead letters as it was
-- ("R|at|id|raw"), fenced by its lease; waiters get the rejection.
--
-- KEYS: env, lease, cancel, progress, watch, dead, results, expiry, attempt
-- ARGV: id, attempt, result expiry (ms), stored outcome, notification entry, now (ms)
local id = ARGV[1]
if not fenced(KEYS[9], KEYS[2], id, ARGV[2]) then return 0 end
local blob = redis.call('HGET', KEYS[1], id) or ''
local p, chan, js = parse(blob)
local raw = blob
if js then raw = string.sub(blob, js + 1) end
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[9], id)
redis.call('SREM', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
local w = redis.call('HGET', KEYS[5], id)
if w then redis.call('HDEL', KEYS[5], id) end
redis.call('RPUSH', KEYS[6], 'R|' .. ARGV[6] .. '|' .. id .. '|' .. raw)
finish(id, ARGV[4], ARGV[5], ARGV[3], chan, nil, nil, w or nil)
-- unique: release its unique key
unique_release(KEYS[1], { id })
-- flow: its concurrency permit goes to the next waiter
gate_release(string.sub(KEYS[1], 1, -4), { id }, true)
flush(KEYS[7], KEYS[8])
return 1
