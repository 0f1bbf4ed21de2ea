-- Releases kombu's `unacked_mutex` (KEYS[1]) if we still hold it (token ARGV[1]); the same
-- script kombu uses.
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
  return 0
end
redis.call('del', KEYS[1])
return 1
