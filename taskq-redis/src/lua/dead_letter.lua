-- dead_letter: move a leased message to the dead letters, fenced by its lease, and store the
-- failure so waiters learn of it.
--
-- KEYS: env, lease, cancel, progress, watch, dead, results, expiry
-- ARGV: id, attempt, ttl_ms, outcome JSON, extra reply channel, dead-letter JSON head (the
--       dead letter without its envelope and closing brace), now (ms)
local id = ARGV[1]
local blob, a, p, chan, js = fenced(KEYS[1], KEYS[2], id, ARGV[2])
if not blob then return 0 end
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[1], id)
redis.call('SREM', KEYS[3], id)
local prog = redis.call('HGET', KEYS[4], id)
if prog then redis.call('HDEL', KEYS[4], id) end
local w = redis.call('HGET', KEYS[5], id)
if w then redis.call('HDEL', KEYS[5], id) end
redis.call('RPUSH', KEYS[6], 'D|' .. a .. '|' .. ARGV[6] .. ',"envelope":' .. string.sub(blob, js + 1) .. '}')
finish(tonumber(ARGV[7]), id, ARGV[4], tonumber(ARGV[3]), chan, prog or nil, w or nil)
if ARGV[5] ~= '' and ARGV[5] ~= chan then note(ARGV[5], id, ARGV[4]) end
flush(KEYS[7], KEYS[8])
return 1
