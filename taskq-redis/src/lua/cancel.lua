-- cancel: flag a leased task (its worker learns at the next extend), or remove a queued or
-- delayed one and store its cancelled result.
--
-- KEYS: env, lease, delayed, cancel, progress, watch, results, expiry, the ready list of its
--       priority, attempt, denv
-- ARGV: id, the message as read before (to detect a change meanwhile), result expiry (ms;
--       empty: keep none), stored outcome, notification entry
-- Returns 2 signalled, 1 removed, 0 not found, -1 changed meanwhile (read again and retry).
local id = ARGV[1]
if redis.call('ZSCORE', KEYS[2], id) then
  redis.call('SADD', KEYS[4], id)
  return 2
end
local blob = redis.call('HGET', KEYS[1], id) or redis.call('HGET', KEYS[11], id)
if not blob then return 0 end
if blob ~= ARGV[2] then return -1 end
if redis.call('ZREM', KEYS[3], id) == 0 then
  redis.call('LREM', KEYS[9], 0, id)
end
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[11], id)
redis.call('HDEL', KEYS[10], id)
local prog = redis.call('HGET', KEYS[5], id)
if prog then redis.call('HDEL', KEYS[5], id) end
local w = redis.call('HGET', KEYS[6], id)
if w then redis.call('HDEL', KEYS[6], id) end
local p, chan = parse(blob)
finish(id, ARGV[4], ARGV[5], ARGV[3], chan, nil, prog or nil,
  w or nil)
-- unique: release its unique key
unique_release(KEYS[1], { id })
-- flow: its concurrency permit goes to the next waiter
gate_release(string.sub(KEYS[1], 1, -4), { id }, true)
flush(KEYS[7], KEYS[8])
return 1
