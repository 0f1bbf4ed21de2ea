-- progress: store a running task's progress report, fenced by its lease.
--
-- KEYS: attempt, lease, progress
-- ARGV: id, attempt, progress JSON
if not fenced(KEYS[1], KEYS[2], ARGV[1], ARGV[2]) then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1
