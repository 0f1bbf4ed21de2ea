-- release: hand leased messages back, ready at once at the head of their priority, without
-- counting the attempt.
--
-- KEYS: env, lease, cancel, wake, r0 .. r9
-- ARGV, 2 per item: id, attempt
local n = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local blob, a, p, chan, js, i1 = fenced(KEYS[1], KEYS[2], id, ARGV[i + 1])
  if blob then
    local back = a - 1
    if back < 0 then back = 0 end
    redis.call('ZREM', KEYS[2], id)
    redis.call('HSET', KEYS[1], id, back .. string.sub(blob, i1))
    redis.call('LPUSH', KEYS[5 + p], id)
    redis.call('SREM', KEYS[3], id)
    n = n + 1
  end
end
if n > 0 then wake(KEYS[4]) end
return n
