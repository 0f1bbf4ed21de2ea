-- join: the first value written to a slot stays; once every slot of `total` has one, return
-- them all in slot order.
--
-- KEYS: the join's hash
-- ARGV: slot, total, value, ttl_ms
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local total = tonumber(ARGV[2])
if redis.call('HLEN', KEYS[1]) < total then return false end
local fields = {}
for i = 0, total - 1 do fields[#fields + 1] = tostring(i) end
local values = redis.call('HMGET', KEYS[1], unpack(fields))
for i = 1, total do
  if not values[i] then return false end
end
return values
