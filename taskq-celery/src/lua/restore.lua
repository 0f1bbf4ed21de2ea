-- Puts one unacknowledged message back in its list, if the `unacked` entry (KEYS[1], field
-- ARGV[1]) is still the one the caller read (ARGV[2]); otherwise it was acknowledged or
-- restored meanwhile and nothing happens. Like kombu's restore_by_tag, but as one atomic step.
-- KEYS[2]: unacked_index; KEYS[3]: the list; ARGV[3]: the message to push (marked redelivered).
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current ~= ARGV[2] then
  return 0
end
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
