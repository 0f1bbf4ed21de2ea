-- schedule_release: send the tick kept by overlap `buffer_one` once the previous run has
-- finished.
--
-- KEYS: as schedule_common.lua
-- Returns the sent task's id, or false.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return sched_release()
