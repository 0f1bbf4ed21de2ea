-- extend: push the deadlines of current leases; say of each 0 lost, 1 held, 2 cancelled.
--
-- KEYS: attempt, lease, cancel
-- ARGV: the new deadline (ms), then 2 per item: id, attempt - 1 (the count of deliveries over
--       that the lease was taken at)
local deadline = ARGV[1]
local ids = {}
local atts = {}
for i = 2, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  atts[#atts + 1] = ARGV[i + 1]
end
local current = redis.call('HMGET', KEYS[1], unpack(ids))
local leased = redis.call('ZMSCORE', KEYS[2], unpack(ids))
local cancelled = {}
if redis.call('SCARD', KEYS[3]) > 0 then
  cancelled = redis.call('SMISMEMBER', KEYS[3], unpack(ids))
end
local out = {}
local zadd = {}
for i, id in ipairs(ids) do
  if leased[i] and (current[i] or '0') == atts[i] then
    zadd[#zadd + 1] = deadline
    zadd[#zadd + 1] = id
    if cancelled[i] == 1 then out[i] = 2 else out[i] = 1 end
  else
    out[i] = 0
  end
end
if #zadd > 0 then redis.call('ZADD', KEYS[2], 'XX', unpack(zadd)) end
return out
