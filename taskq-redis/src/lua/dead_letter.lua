-- dead_letter: move a leased message to the dead letters, fenced by its lease, and store the
-- failure so waiters learn of it.
--
-- KEYS: env, lease, cancel, progress, watch, dead, results, expiry, attempt
-- ARGV: id, attempt, result expiry (ms; empty: keep none), stored outcome, notification entry,
--       extra reply channel, dead-letter JSON head (the dead letter without its envelope and
--       closing brace)
local id = ARGV[1]
local a = fenced(KEYS[9], KEYS[2], id, ARGV[2])
if not a then return 0 end
local blob = redis.call('HGET', KEYS[1], id)
local p, chan, js = parse(blob)
local json = 'null'
if js then json = string.sub(blob, js + 1) end
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[9], id)
redis.call('SREM', KEYS[3], id)
local prog = redis.call('HGET', KEYS[4], id)
if prog then redis.call('HDEL', KEYS[4], id) end
local w = redis.call('HGET', KEYS[5], id)
if w then redis.call('HDEL', KEYS[5], id) end
redis.call('RPUSH', KEYS[6], 'D|' .. a .. '|' .. ARGV[7] .. ',"envelope":' .. json .. '}')
finish(id, ARGV[4], ARGV[5], ARGV[3], chan, ARGV[6], prog or nil,
  w or nil)
-- unique: release its unique key
unique_release(KEYS[1], { id })
-- flow: its concurrency permit goes to the next waiter
gate_release(string.sub(KEYS[1], 1, -4), { id }, true)
flush(KEYS[7], KEYS[8])
return 1
