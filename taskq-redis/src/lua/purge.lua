-- purge: delete up to `max` waiting messages of a queue (ready ones first, highest priority
-- first, then scheduled ones, soonest first) and store a cancelled result for each, kept as
-- long as its message asked, with its waiters told. Leased tasks and dead letters stay. The
-- caller calls again until nothing is left.
--
-- KEYS: env, denv, delayed, r0 .. r9, attempt, progress, watch, results, expiry, lease
-- ARGV: max, the outcome JSON, now (ms)
-- Returns {ids taken off the lists, tasks purged}.
local max = tonumber(ARGV[1])
local outcome = ARGV[2]
local now = tonumber(ARGV[3])
local ids = {}
for p = 9, 0, -1 do
  if #ids >= max then break end
  local got = redis.call('LPOP', KEYS[4 + p], max - #ids)
  if got then
    for _, id in ipairs(got) do ids[#ids + 1] = id end
  end
end
if #ids < max then
  local due = redis.call('ZRANGE', KEYS[3], 0, max - #ids - 1)
  if #due > 0 then
    redis.call('ZREM', KEYS[3], unpack(due))
    for _, id in ipairs(due) do ids[#ids + 1] = id end
  end
end
local n = 0
local purged = {}
for _, id in ipairs(ids) do
  -- A ready copy of an id that is leased (a publish retried) leaves the running task alone.
  if not redis.call('ZSCORE', KEYS[19], id) then
    local blob = redis.call('HGET', KEYS[1], id) or redis.call('HGET', KEYS[2], id)
    if blob then
      redis.call('HDEL', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[14], id)
      local prog = redis.call('HGET', KEYS[15], id)
      if prog then redis.call('HDEL', KEYS[15], id) end
      local w = redis.call('HGET', KEYS[16], id)
      if w then redis.call('HDEL', KEYS[16], id) end
      local p, chan, js = parse(blob)
      local expires = string.format('%.0f', now + 86400000)
      local about = ''
      if js then
        local ok, env = pcall(cjson.decode, string.sub(blob, js + 1))
        if ok and type(env) == 'table' then
          local ttl = env.result_ttl_ms
          if type(ttl) == 'number' then
            expires = string.format('%.0f', now + ttl)
          else
            expires = ''
          end
          if type(env.task) == 'string' then about = ',"task":' .. cjson.encode(env.task) end
        end
      end
      local stored = '{"outcome":' .. outcome .. about .. ',"finished_at":' ..
        string.format('%.0f', now) .. '}'
      finish(id, stored, '{"id":"' .. id .. '","outcome":' .. outcome .. '}', expires, chan,
        nil, prog or nil, w or nil)
      n = n + 1
      purged[n] = id
    end
  end
end
-- unique: release the purged tasks' unique keys (an id left alone because it is leased is not
-- among them)
unique_release(KEYS[1], purged)
-- flow: their gate lines go (a purged task held no permit)
gate_release(string.sub(KEYS[1], 1, -4), purged, true)
flush(KEYS[17], KEYS[18])
return { #ids, n }
