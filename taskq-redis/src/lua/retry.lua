-- retry: put a leased message back as delayed until `due`, keeping its attempt count.
--
-- KEYS: attempt, lease, delayed, cancel, wake
-- ARGV: id, attempt, due (ms)
local id = ARGV[1]
if not fenced(KEYS[1], KEYS[2], id, ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[2], id)
redis.call('ZADD', KEYS[3], ARGV[3], id)
redis.call('SREM', KEYS[4], id)
wake(KEYS[5])
return 1
