-- heartbeat: register or refresh a live worker, and forget the ones whose heartbeat ran out
-- (readers skip those already; this keeps the hash from growing with killed workers).
--
-- KEYS: info (hash id -> JSON), deadline (zset id by deadline ms)
-- ARGV: id, JSON, deadline (ms), now (ms)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local gone = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. ARGV[4], 'BYSCORE', 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('ZREM', KEYS[2], unpack(gone))
  redis.call('HDEL', KEYS[1], unpack(gone))
end
return #gone
