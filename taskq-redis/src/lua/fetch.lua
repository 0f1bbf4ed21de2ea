-- fetch: reclaim expired leases, promote due delayed messages, sweep expired results, then pop
-- up to `max` ready ids (highest priority first across the queues, FIFO within one) and lease
-- them. A reclaimed lease counts as a delivery that is over (attempt hash + 1); a fetch only
-- reads the count.
--
-- KEYS, 20 per queue: env, lease, delayed, wake, dead, r0 .. r9, results, expiry, attempt,
--       denv, paused
-- ARGV: max, lease_ms, number of queues, now (ms, the caller's wall clock), check timers (0/1)
--
-- The timer pass costs three calls per queue; a busy worker asks for it only every few
-- milliseconds, and a fetch that finds nothing ready always does it. A paused queue is left
-- out of everything (its timers wait too: nothing of it is due for a worker until resumed).
-- Returns {next_wake_ms (-1: none; only when nothing was leased), popped, (queue index, id,
-- deliveries over before this one) ...}
local max = tonumber(ARGV[1])
local lease_ms = tonumber(ARGV[2])
local nq = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local check = ARGV[5] == '1'
local S = 20

local function k(q, i) return KEYS[(q - 1) * S + i] end
local function rk(q, p) return KEYS[(q - 1) * S + 6 + p] end

-- Garbage found in the queue's keys goes to the dead letters as it was: "R|at|id|raw".
local function bury_raw(q, id, raw)
  local shown = ''
  if is_uuid(id) then shown = id end
  redis.call('RPUSH', k(q, 5), 'R|' .. now .. '|' .. shown .. '|' .. raw)
end

-- The queues not paused, in order.
local open = {}
for q = 1, nq do
  if redis.call('EXISTS', k(q, 20)) == 0 then open[#open + 1] = q end
end

local function push_ids(q, ids, front)
  local blobs = redis.call('HMGET', k(q, 1), unpack(ids))
  local by_p = {}
  for i, id in ipairs(ids) do
    local p = parse(blobs[i])
    if p then
      push_to(by_p, p, id)
    elseif blobs[i] then
      redis.call('HDEL', k(q, 1), id)
      redis.call('HDEL', k(q, 18), id)
      bury_raw(q, id, blobs[i])
    else
      -- no message: a stale entry (its count, if a reclaim just wrote one, goes too)
      redis.call('HDEL', k(q, 18), id)
      if not is_uuid(id) then bury_raw(q, id, id) end
    end
  end
  for p, l in pairs(by_p) do
    if front then
      redis.call('LPUSH', rk(q, p), unpack(l))
    else
      redis.call('RPUSH', rk(q, p), unpack(l))
    end
  end
end

local function timers()
  for _, q in ipairs(open) do
    local expired = redis.call('ZRANGEBYSCORE', k(q, 2), '-inf', now, 'LIMIT', 0, 1000)
    if #expired > 0 then
      redis.call('ZREM', k(q, 2), unpack(expired))
      for _, id in ipairs(expired) do redis.call('HINCRBY', k(q, 18), id, 1) end
      -- flow: a dead worker's permits come back with its leases
      gate_release(string.sub(k(q, 1), 1, -4), expired, false)
      push_ids(q, expired, true)
    end
    local due = redis.call('ZRANGEBYSCORE', k(q, 3), '-inf', now, 'LIMIT', 0, 1000)
    if #due > 0 then
      redis.call('ZREM', k(q, 3), unpack(due))
      -- Published with a due time, their messages wait in `denv` (retries stay in `env`).
      -- One that has a live stored result finished meanwhile (the same id published again
      -- without a due time, and run): its waiting copy is dropped, not run again.
      local waiting = redis.call('HMGET', k(q, 19), unpack(due))
      local moved = {}
      local waited = {}
      for i, id in ipairs(due) do
        if waiting[i] then
          moved[#moved + 1] = id
          moved[#moved + 1] = waiting[i]
          waited[#waited + 1] = id
        end
      end
      if #waited > 0 then
        redis.call('HDEL', k(q, 19), unpack(waited))
        local done = redis.call('HMGET', k(q, 16), unpack(waited))
        local keep = {}
        for j, id in ipairs(waited) do
          local e = done[j] and expires_of(done[j])
          if not (e and e > now) then
            keep[#keep + 1] = id
            keep[#keep + 1] = moved[2 * j]
          end
        end
        if #keep > 0 then redis.call('HSET', k(q, 1), unpack(keep)) end
      end
      push_ids(q, due, false)
    end
    -- Up to 1,000 results a pass (a member holds a whole completed batch, or one id).
    local old = redis.call('ZRANGEBYSCORE', k(q, 17), '-inf', now, 'LIMIT', 0, 1000)
    local budget = 1000
    local swept = {}
    for _, batch in ipairs(old) do
      if budget <= 0 then break end
      swept[#swept + 1] = batch
      local n = 0
      for _ in string.gmatch(batch, '%S+') do n = n + 1 end
      budget = budget - n
    end
    if #swept > 0 then
      redis.call('ZREM', k(q, 17), unpack(swept))
      for _, batch in ipairs(swept) do
        local ids = {}
        for id in string.gmatch(batch, '%S+') do ids[#ids + 1] = id end
        local stored = redis.call('HMGET', k(q, 16), unpack(ids))
        local gone = {}
        for i, v in ipairs(stored) do
          if v then
            local e = expires_of(v)
            if not e or e <= now then gone[#gone + 1] = ids[i] end
          end
        end
        if #gone > 0 then redis.call('HDEL', k(q, 16), unpack(gone)) end
      end
    end
  end
end

-- Pop: LMPOP takes from the first non-empty list, in priority order across the queues.
local args = { 'LMPOP', #open * 10 }
local owner = {}
for p = 9, 0, -1 do
  for _, q in ipairs(open) do
    local key = rk(q, p)
    args[#args + 1] = key
    owner[key] = q
  end
end
args[#args + 1] = 'LEFT'
args[#args + 1] = 'COUNT'
args[#args + 1] = 0
local popped = {}
for q = 1, nq do popped[q] = false end
local total = 0
local function pop()
  if #open == 0 then return end
  local need = max - total
  while need > 0 do
    args[#args] = need
    local r = redis.call(unpack(args))
    if not r then break end
    local q = owner[r[1]]
    local l = popped[q]
    if not l then
      popped[q] = r[2]
    else
      for _, id in ipairs(r[2]) do l[#l + 1] = id end
    end
    need = need - #r[2]
    total = total + #r[2]
  end
end

if check then timers() end
pop()
if total == 0 and not check then
  timers()
  pop()
end

-- flow: rate and concurrency limits, decided before anything is leased. A popped id with a
-- line in its queue's `gate` hash (see backend/flow.rs) over its concurrency waits in its
-- key's `cwait` list; over its rate it goes to the delayed set, due when its key's slot frees
-- (GCRA on the server's clock); either way it holds no lease and uses no attempt. The pop
-- then goes on for the slots left, a few rounds at most. Queues without gates pay one EXISTS.
local gate_now_us = nil
local gated_upto = {}
local function gate(q)
  local ids = popped[q]
  local from = (gated_upto[q] or 0) + 1
  if not ids or #ids < from then return 0 end
  local base = string.sub(k(q, 1), 1, -4)
  local gk = base .. 'gate'
  if redis.call('EXISTS', gk) == 0 then
    gated_upto[q] = #ids
    return 0
  end
  local lines = redis.call('HMGET', gk, unpack(ids, from))
  if not gate_now_us then
    local t = redis.call('TIME')
    gate_now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  local keep = {}
  for i = 1, from - 1 do keep[i] = ids[i] end
  local denied = 0
  for j, line in ipairs(lines) do
    local id = ids[from + j - 1]
    local go = true
    if line then
      local rkey, iv, ckey, most, bkey, probes = gate_fields(line)
      -- flow: an open circuit breaker starts nothing of its task (looked at again within a
      -- second, so one closed by hand lets them go soon); half-open, `probes` may start, the
      -- count taken only once the task passes its other limits. Probes that never reported
      -- for a minute (their worker died) are given again.
      local probe = nil
      if bkey ~= '' then
        local bs = base .. 'brk:' .. bkey
        local st = redis.call('HMGET', bs, 'until', 'left', 'at')
        local untl = tonumber(st[1])
        if untl then
          if now < untl then
            redis.call('ZADD', k(q, 3), now + math.min(untl - now, 1000), id)
            go = false
          else
            local left = tonumber(st[2]) or probes
            if left <= 0 and now - (tonumber(st[3]) or 0) > 60000 then left = probes end
            if left <= 0 then
              redis.call('ZADD', k(q, 3), now + 1000, id)
              go = false
            else
              probe = { bs, left - 1 }
            end
          end
        end
      end
      if go and ckey ~= '' and redis.call('SCARD', base .. 'conc:' .. ckey) >= most then
        redis.call('RPUSH', base .. 'cwait:' .. ckey, id)
        go = false
      end
      if go and rkey ~= '' and iv > 0 then
        local key = base .. 'rate:' .. rkey
        local tat = tonumber(redis.call('GET', key) or '0') or 0
        if tat < gate_now_us then tat = gate_now_us end
        -- Tolerance: up to 50 ms of slots may start together (none for rates under 20/s),
        -- so a slot is not lost to a worker that promotes its deferred tasks a little late.
        local tau = math.floor(50000 / iv) * iv
        if tat > gate_now_us + tau then
          redis.call('ZADD', k(q, 3), now + math.ceil((tat - tau - gate_now_us) / 1000), id)
          go = false
        else
          redis.call('SET', key, string.format('%.0f', tat + iv), 'PX',
            math.ceil((tat + iv - gate_now_us) / 1000) + 1000)
        end
      end
      if go and ckey ~= '' then redis.call('SADD', base .. 'conc:' .. ckey, id) end
      if go and probe then redis.call('HSET', probe[1], 'left', probe[2], 'at', now) end
    end
    if go then keep[#keep + 1] = id else denied = denied + 1 end
  end
  popped[q] = keep
  gated_upto[q] = #keep
  return denied
end
local function gate_all()
  local denied = 0
  for q = 1, nq do denied = denied + gate(q) end
  total = total - denied
  return denied
end
if total > 0 and gate_all() > 0 then
  for _ = 1, 3 do
    if total >= max then break end
    local before = total
    pop()
    if total == before or gate_all() == 0 then break end
  end
end

-- Lease what was popped. Every id crossing between Lua and Redis costs more than the command
-- it is for, so the common case touches each id three times (pop, ZADD, reply) and leaves the
-- messages to the caller, which reads them with a plain HMGET (an id whose message is gone,
-- a stale copy or garbage, comes back to the `vanished` script).
local out = { -1, total }
local no = 2
local deadline = tostring(now + lease_ms)
local function lease(q, ids, careful)
  -- The count of deliveries over: the hash does not exist while nothing failed.
  local over = {}
  if redis.call('EXISTS', k(q, 18)) == 1 then over = redis.call('HMGET', k(q, 18), unpack(ids)) end
  local zadd = {}
  local nz = 0
  local start = no
  local seen = {}
  for i = 1, #ids do
    local id = ids[i]
    if not (careful and seen[id]) then
      zadd[nz + 1] = deadline
      zadd[nz + 2] = id
      nz = nz + 2
      out[no + 1] = q
      out[no + 2] = id
      out[no + 3] = over[i] or 0
      no = no + 3
      if careful then seen[id] = true end
    end
  end
  if redis.call('ZADD', k(q, 2), 'NX', unpack(zadd)) == nz / 2 then return true end
  if not careful then
    -- An id twice in this fetch, or one leased already: undo this queue's part of the reply
    -- and go again with the checks.
    for j = no, start + 1, -1 do out[j] = nil end
    no = start
    return false
  end
  -- Leased already: a second copy of an id (a publish retried after its reply was lost).
  -- Counting the first delivery as over fences it off, so at worst the task runs twice, as
  -- at-least-once allows. (Leased by this pass means scored with this pass's deadline; a
  -- copy leased by another fetch in the same millisecond with the same lease length looks
  -- the same and is not fenced off: both deliveries carry one attempt number, and the first
  -- completion wins.)
  for j = start + 2, no, 3 do
    local id = out[j]
    if redis.call('ZSCORE', k(q, 2), id) ~= deadline then
      out[j + 1] = redis.call('HINCRBY', k(q, 18), id, 1)
      redis.call('ZADD', k(q, 2), deadline, id)
    end
  end
  return true
end
for q = 1, nq do
  local ids = popped[q]
  if ids and #ids > 0 and not lease(q, ids, false) then lease(q, ids, true) end
end

if max > 0 and total == max then
  -- More may be ready: pass the wake-up on to another idle worker.
  for _, q in ipairs(open) do
    local ready = {}
    for p = 0, 9 do ready[#ready + 1] = rk(q, p) end
    if redis.call('EXISTS', unpack(ready)) > 0 then wake(k(q, 4)) end
  end
end

if no == 2 then
  -- Nothing leased: say when the earliest delayed message or lease is due, so an idle worker
  -- blocks exactly until then.
  local nxt = -1
  for _, q in ipairs(open) do
    for _, zk in ipairs({ k(q, 2), k(q, 3) }) do
      local f = redis.call('ZRANGE', zk, 0, 0, 'WITHSCORES')
      if f[2] then
        local d = tonumber(f[2]) - now
        if d < 0 then d = 0 end
        if nxt < 0 or d < nxt then nxt = d end
      end
    end
  end
  out[1] = nxt
end
return out
