-- schedule_claim: claim one tick of a schedule, atomically: only a tick later than the last
-- claimed one; record it (and the catch-up skips that come with it), apply the overlap
-- policy against the previous run, and publish the tick's message.
--
-- KEYS: as schedule_common.lua
-- ARGV: 1 nominal (ms), 2 id, 3 priority, 4 due (ms; empty: ready), 5 stored message,
--       6 missed (catch-up skips), 7 overlap ('allow' | 'skip' | 'buffer_one'), 8 gate line
--       (empty: no limits)
-- Returns {'not_found'} | {'already'} | {'enqueued', id} | {'buffered'} | {'skipped', reason}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
sched_release()
local s = redis.call('HMGET', KEYS[1], 'last_tick', 'last_task', 'paused', 'buf_id')
if s[1] and tonumber(s[1]) >= tonumber(ARGV[1]) then return {'already'} end
redis.call('HSET', KEYS[1], 'last_tick', ARGV[1])
sched_skip(ARGV[1], 'catchup', ARGV[6])
local reason = nil
if s[3] == '1' then
  reason = 'paused'
elseif ARGV[7] ~= 'allow' and sched_busy(s[2]) then
  if ARGV[7] == 'skip' then
    reason = 'overlap'
  elseif s[4] then
    reason = 'buffer_full'
  else
    redis.call('HSET', KEYS[1], 'buffered', ARGV[1], 'buf_id', ARGV[2], 'buf_prio', ARGV[3],
      'buf_due', ARGV[4], 'buf_blob', ARGV[5], 'buf_gate', ARGV[8])
    return {'buffered'}
  end
end
if reason then
  sched_skip(ARGV[1], reason, 1)
  return {'skipped', reason}
end
sched_send(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8])
redis.call('HSET', KEYS[1], 'last_task', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'runs', 1)
return {'enqueued', ARGV[2]}
