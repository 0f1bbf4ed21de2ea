-- requeue: move chosen dead letters back to ready with a fresh attempt count.
--
-- KEYS: env, dead, wake, r0 .. r9, results, expiry, attempt
-- ARGV, 4 per item: the dead-letter entry as listed, id, priority, the new stored message
local n = 0
for i = 1, #ARGV, 4 do
  local id = ARGV[i + 1]
  if redis.call('LREM', KEYS[2], 1, ARGV[i]) == 1 then
    redis.call('HSET', KEYS[1], id, ARGV[i + 3])
    redis.call('HDEL', KEYS[16], id)
    redis.call('RPUSH', KEYS[4 + tonumber(ARGV[i + 2])], id)
    redis.call('HDEL', KEYS[14], id)
    n = n + 1
  end
end
if n > 0 then wake(KEYS[3]) end
return n
