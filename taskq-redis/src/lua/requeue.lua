-- requeue: move chosen dead letters back to ready with a fresh attempt count. Each is named by
-- its index in the dead list as the caller read it and checked against the entry read there;
-- moved ones are overwritten with a tombstone, and one LREM removes them all (removing each on
-- its own would scan the list once per letter).
--
-- KEYS: env, dead, wake, r0 .. r9, results, expiry, attempt
-- ARGV: tombstone (unique per call), then 5 per item: index, the entry as read, id, priority,
--       the new stored message
-- Returns how many moved (fewer than asked: the list changed meanwhile).
local tomb = ARGV[1]
local n = 0
for i = 2, #ARGV, 5 do
  local id = ARGV[i + 2]
  if redis.call('LINDEX', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('LSET', KEYS[2], ARGV[i], tomb)
    redis.call('HSET', KEYS[1], id, ARGV[i + 4])
    redis.call('HDEL', KEYS[16], id)
    redis.call('RPUSH', KEYS[4 + tonumber(ARGV[i + 3])], id)
    redis.call('HDEL', KEYS[14], id)
    -- Whoever was told this task's dead-lettered outcome forgets it: it runs again.
    local _, chan = parse(ARGV[i + 4])
    note(chan, '{"id":"' .. id .. '","requeued":true}')
    n = n + 1
  end
end
if n > 0 then
  redis.call('LREM', KEYS[2], 0, tomb)
  wake(KEYS[3])
end
flush(KEYS[14], KEYS[15])
return n
