-- complete_fast: the common case of `complete`, with no per-item Lua. Every lease in the batch
-- must be current and no revocation, progress report or foreign waiter may exist in the queue;
-- otherwise it changes nothing and returns -1, and the caller sends the batch to `complete`,
-- which handles each item on its own. The caller renders everything: the result hash pairs
-- (values "<expires ms>|<json>"), one expiry entry per group of results that expire together
-- and one notification message per reply channel.
--
-- KEYS: env, lease, cancel, progress, watch, results, expiry, attempt
-- ARGV: n, r (results kept), g (expiry groups), c (channels), counted (0: every attempt is 1),
--       ids (n, distinct), attempts - 1 (n), result pairs (2r: id, stored),
--       expiry groups (2g: expires ms, ids space-separated), channel pairs (2c: channel, message)
-- Returns n, or -1.
local n = tonumber(ARGV[1])
local r = tonumber(ARGV[2])
local g = tonumber(ARGV[3])
local c = tonumber(ARGV[4])
local first, last = 6, 5 + n
-- unique: a queue holding unique keys goes to `complete`, which releases them (the same one
-- EXISTS as before for every other queue). flow: so does a queue with gated messages, whose
-- permits `complete` releases.
if redis.call('EXISTS', KEYS[3], KEYS[4], KEYS[5], unique_hash(KEYS[1]),
  string.sub(KEYS[1], 1, -4) .. 'gate') > 0 then return -1 end
-- The attempt hash only holds deliveries that ended unfinished: while nothing failed it does
-- not exist, and every lease of a first attempt is current if the lease itself is.
local counted = ARGV[5] ~= '0' or redis.call('EXISTS', KEYS[8]) == 1
local leased = redis.call('ZMSCORE', KEYS[2], unpack(ARGV, first, last))
for i = 1, n do
  if not leased[i] then return -1 end
end
if counted then
  local atts = redis.call('HMGET', KEYS[8], unpack(ARGV, first, last))
  for i = 1, n do
    if (atts[i] or '0') ~= ARGV[last + i] then return -1 end
  end
  redis.call('HDEL', KEYS[8], unpack(ARGV, first, last))
end
redis.call('ZREM', KEYS[2], unpack(ARGV, first, last))
redis.call('HDEL', KEYS[1], unpack(ARGV, first, last))
local p = first + 2 * n
if r > 0 then
  redis.call('HSET', KEYS[6], unpack(ARGV, p, p + 2 * r - 1))
  redis.call('ZADD', KEYS[7], unpack(ARGV, p + 2 * r, p + 2 * r + 2 * g - 1))
end
p = p + 2 * r + 2 * g
for j = 0, c - 1 do
  redis.call('PUBLISH', ARGV[p + 2 * j], ARGV[p + 2 * j + 1])
end
return n
