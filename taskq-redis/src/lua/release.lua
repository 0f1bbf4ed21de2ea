-- release: hand leased messages back, ready at once at the head of their priority, without
-- counting the attempt (the count of deliveries that are over stays as it was).
--
-- KEYS: env, lease, cancel, wake, attempt, r0 .. r9
-- ARGV, 2 per item: id, attempt
local n = 0
local released = {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local a = fenced(KEYS[5], KEYS[2], id, ARGV[i + 1])
  if a then
    local p = parse(redis.call('HGET', KEYS[1], id)) or 5
    redis.call('ZREM', KEYS[2], id)
    redis.call('LPUSH', KEYS[6 + p], id)
    redis.call('SREM', KEYS[3], id)
    n = n + 1
    released[n] = id
  end
end
-- flow: their concurrency permits go to the next waiters
gate_release(string.sub(KEYS[1], 1, -4), released, false)
if n > 0 then wake(KEYS[4]) end
return n
