-- purge_dead: delete chosen dead letters, each named by its index in the dead list as the caller
-- read it and checked against the entry read there (see requeue.lua for the tombstone).
--
-- KEYS: dead
-- ARGV: tombstone (unique per call), then 2 per item: index, the entry as read
-- Returns how many were deleted.
local tomb = ARGV[1]
local n = 0
for i = 2, #ARGV, 2 do
  if redis.call('LINDEX', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('LSET', KEYS[1], ARGV[i], tomb)
    n = n + 1
  end
end
if n > 0 then redis.call('LREM', KEYS[1], 0, tomb) end
return n
