-- Shared by the schedule scripts (after the prelude).
--
-- KEYS: 1 state hash, 2 skips list, 3 env, 4 wake, 5 delayed, 6..15 r0..r9, 16 denv
-- The state hash: last_tick (ms), last_task (id), paused ('1'), runs, skip:<reason> counts,
-- and the kept tick of overlap `buffer_one`: buffered (nominal ms), buf_id, buf_prio, buf_due,
-- buf_blob, buf_gate (its gate line, empty when the task has no limits). The skips list: '<nominal>|<reason>|<count>', newest first, capped.

-- Whether task `id` is still queued, delayed or running.
local function sched_busy(id)
  if not id or id == '' then return false end
  return redis.call('HEXISTS', KEYS[3], id) == 1 or redis.call('HEXISTS', KEYS[16], id) == 1
end

-- Publishes one stored message with its gate line (unless a message with its id is there
-- already).
local function sched_send(id, prio, due, blob, gate_line)
  if redis.call('HEXISTS', KEYS[3], id) == 1 or redis.call('HEXISTS', KEYS[16], id) == 1 then
    return
  end
  if gate_line and gate_line ~= '' then
    redis.call('HSET', string.sub(KEYS[3], 1, -4) .. 'gate', id, gate_line)
  end
  if due == '' then
    redis.call('HSET', KEYS[3], id, blob)
    redis.call('RPUSH', KEYS[6 + tonumber(prio)], id)
  else
    redis.call('HSET', KEYS[16], id, blob)
    redis.call('ZADD', KEYS[5], due, id)
  end
  wake(KEYS[4])
end

local function sched_skip(nominal, reason, count)
  if tonumber(count) <= 0 then return end
  redis.call('HINCRBY', KEYS[1], 'skip:' .. reason, count)
  redis.call('LPUSH', KEYS[2], nominal .. '|' .. reason .. '|' .. count)
  redis.call('LTRIM', KEYS[2], 0, 19)
end

-- Sends the kept tick if the previous run finished; returns its id, or false.
local function sched_release()
  local b = redis.call('HMGET', KEYS[1], 'buf_id', 'buf_prio', 'buf_due', 'buf_blob', 'last_task',
    'buf_gate')
  if not b[1] then return false end
  if sched_busy(b[5]) then return false end
  sched_send(b[1], b[2], b[3], b[4], b[6])
  redis.call('HSET', KEYS[1], 'last_task', b[1])
  redis.call('HINCRBY', KEYS[1], 'runs', 1)
  redis.call('HDEL', KEYS[1], 'buffered', 'buf_id', 'buf_prio', 'buf_due', 'buf_blob', 'buf_gate')
  return b[1]
end
