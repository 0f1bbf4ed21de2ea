-- vanished: leased ids whose message the fetch's reader did not find. Their lease is dropped
-- (with any revocation flag); an id whose message is gone from both `env` and `denv` (a stale
-- copy of a finished or revoked task) also loses its attempt count; garbage written into a
-- ready list goes to the dead letters as it was ("R|at||raw"). A message that is back
-- meanwhile (published, promoted, requeued or released again) was pushed by whoever brought it
-- back, so nothing is pushed here.
--
-- KEYS: env, lease, dead, attempt, cancel, denv
-- ARGV: now (ms), then 2 per item: id, attempt
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if fenced(KEYS[4], KEYS[2], id, ARGV[i + 1]) then
    redis.call('ZREM', KEYS[2], id)
    redis.call('SREM', KEYS[5], id)
    if redis.call('HEXISTS', KEYS[1], id) == 0 and redis.call('HEXISTS', KEYS[6], id) == 0 then
      redis.call('HDEL', KEYS[4], id)
      if not is_uuid(id) then
        redis.call('RPUSH', KEYS[3], 'R|' .. ARGV[1] .. '||' .. id)
      end
    end
  end
end
return 0
