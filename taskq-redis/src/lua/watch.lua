-- watch: a waiter in a process that did not send the task asks to be told on its own channel.
-- Returns {1, stored result} if there is one already, {2} when watching, {0} when the task is
-- not in this queue (nothing registered unless `force`). With mode "remove", unregisters.
--
-- KEYS: results, expiry, env, watch, denv
-- ARGV: id, channel, force (0/1), mode ("add"/"remove"), now (ms)
local id = ARGV[1]
local chan = ARGV[2]
local w = redis.call('HGET', KEYS[4], id)
if ARGV[4] == 'remove' then
  if w then
    local keep = {}
    for c in string.gmatch(w, '%S+') do
      if c ~= chan then keep[#keep + 1] = c end
    end
    if #keep == 0 then
      redis.call('HDEL', KEYS[4], id)
    else
      redis.call('HSET', KEYS[4], id, table.concat(keep, ' '))
    end
  end
  return { 0 }
end
local r = redis.call('HGET', KEYS[1], id)
if r then
  local e = expires_of(r)
  if e and e > tonumber(ARGV[5]) then return { 1, r } end
end
if ARGV[3] == '1' or redis.call('HEXISTS', KEYS[3], id) == 1
    or redis.call('HEXISTS', KEYS[5], id) == 1 then
  if not w then
    redis.call('HSET', KEYS[4], id, chan)
  else
    local found = false
    for c in string.gmatch(w, '%S+') do
      if c == chan then found = true end
    end
    if not found then redis.call('HSET', KEYS[4], id, w .. ' ' .. chan) end
  end
  return { 2 }
end
return { 0 }
