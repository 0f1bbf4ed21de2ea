-- breaker: a circuit breaker's report, forced state or read (see backend/flow.rs).
--
-- KEYS: state hash (`until`: end of the cooldown, ms; `left`: probes left once half-open),
--       failures sorted set (one member per failed attempt, scored by its time)
-- ARGV: op ('report' | 'open' | 'close' | 'read'), now (ms), then
--       report: success (1/0), failures, within (ms), cooldown (ms), member
--       open: for (ms)
-- Returns the state after, then (for a report) the state before: {0, 0} closed, {1, until}
-- open, {2, left} half-open, each two numbers.
local op = ARGV[1]
local before = nil
local now = tonumber(ARGV[2])
local function state()
  local st = redis.call('HMGET', KEYS[1], 'until', 'left')
  local untl = tonumber(st[1])
  if not untl then return { 0, 0 } end
  if now < untl then return { 1, untl } end
  return { 2, tonumber(st[2]) or -1 }
end
if op == 'open' then
  redis.call('HSET', KEYS[1], 'until', now + tonumber(ARGV[3]))
  redis.call('HDEL', KEYS[1], 'left')
elseif op == 'close' then
  redis.call('DEL', KEYS[1], KEYS[2])
elseif op == 'report' then
  local s = state()
  before = s
  local cooldown = tonumber(ARGV[6])
  if ARGV[3] == '1' then
    if s[1] == 2 then redis.call('DEL', KEYS[1], KEYS[2]) end
  elseif s[1] == 2 then
    redis.call('HSET', KEYS[1], 'until', now + cooldown)
    redis.call('HDEL', KEYS[1], 'left')
  elseif s[1] == 0 then
    local within = tonumber(ARGV[5])
    redis.call('ZADD', KEYS[2], now, ARGV[7])
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - within)
    redis.call('PEXPIRE', KEYS[2], within)
    if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
      redis.call('HSET', KEYS[1], 'until', now + cooldown)
      redis.call('HDEL', KEYS[1], 'left')
      redis.call('DEL', KEYS[2])
    end
  end
end
local after = state()
if before then
  return { after[1], after[2], before[1], before[2] }
end
return after
