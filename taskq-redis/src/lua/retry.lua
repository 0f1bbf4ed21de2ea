-- retry: put a leased message back as delayed until `due`; the delivery is over, so it counts.
--
-- KEYS: attempt, lease, delayed, cancel, wake
-- ARGV: id, attempt, due (ms)
local id = ARGV[1]
if not fenced(KEYS[1], KEYS[2], id, ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[2], id)
-- flow: its concurrency permit goes to the next waiter (the attempt key names the queue)
gate_release(string.sub(KEYS[1], 1, -8), { id }, false)
redis.call('HINCRBY', KEYS[1], id, 1)
redis.call('ZADD', KEYS[3], ARGV[3], id)
redis.call('SREM', KEYS[4], id)
wake(KEYS[5])
return 1
