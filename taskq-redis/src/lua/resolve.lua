-- resolve: store an outcome for `id` unless it has a live one, and tell its waiters.
--
-- KEYS: results, expiry, watch
-- ARGV: id, stored outcome, notification entry, result expiry (ms; empty: keep none), reply
--       channel, now (ms)
local id = ARGV[1]
local r = redis.call('HGET', KEYS[1], id)
if r then
  local e = expires_of(r)
  if e and e > tonumber(ARGV[6]) then return 0 end
end
local w = redis.call('HGET', KEYS[3], id)
if w then redis.call('HDEL', KEYS[3], id) end
finish(id, ARGV[2], ARGV[3], ARGV[4], ARGV[5], nil, nil, w or nil)
flush(KEYS[1], KEYS[2])
return 1
