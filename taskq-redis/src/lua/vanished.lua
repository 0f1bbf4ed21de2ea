-- vanished: leased ids whose message the fetch's reader did not find. A stale copy of a
-- finished or revoked task loses its lease; garbage written into a ready list goes to the dead
-- letters as it was ("R|at||raw"); a message that is back meanwhile (published again under
-- the same id) goes to the head of its priority.
--
-- KEYS: env, lease, dead, attempt, wake, r0 .. r9
-- ARGV: now (ms), then 2 per item: id, attempt
local woken = false
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if fenced(KEYS[4], KEYS[2], id, ARGV[i + 1]) then
    redis.call('ZREM', KEYS[2], id)
    local blob = redis.call('HGET', KEYS[1], id)
    if blob then
      local p = parse(blob) or 5
      redis.call('LPUSH', KEYS[6 + p], id)
      woken = true
    elseif not is_uuid(id) then
      redis.call('RPUSH', KEYS[3], 'R|' .. ARGV[1] .. '||' .. id)
    end
  end
end
if woken then wake(KEYS[5]) end
return 0
