-- Shared by every script (prepended at build time).
--
-- A stored message (a field of the queue's `env` hash) is
--   "<attempt>|<priority>|<reply channel>|<envelope JSON>"
-- The header lets scripts lease, fence and route a message without decoding its JSON
-- (cjson would round big integers in the arguments).

local function parse(blob)
  if not blob then return nil end
  local i1 = string.find(blob, '|', 1, true)
  if not i1 then return nil end
  local i2 = string.find(blob, '|', i1 + 1, true)
  if not i2 then return nil end
  local i3 = string.find(blob, '|', i2 + 1, true)
  if not i3 then return nil end
  local a = tonumber(string.sub(blob, 1, i1 - 1))
  local p = tonumber(string.sub(blob, i1 + 1, i2 - 1))
  if not a or not p or a < 0 or p < 0 or p > 9 or p % 1 ~= 0 or a % 1 ~= 0 then return nil end
  -- attempt, priority, reply channel, index of the last header '|', index of the first '|'
  return a, p, string.sub(blob, i2 + 1, i3 - 1), i3, i1
end

local function is_uuid(s)
  return type(s) == 'string' and #s == 36 and
    string.match(s, '^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$') ~= nil
end

-- Notifications, one message per channel per script run: '[{"id":..,"outcome":..},...]'.
local notes = {}
local function note(chan, id, outcome)
  if not chan or chan == '' then return end
  local l = notes[chan]
  if not l then
    l = {}
    notes[chan] = l
  end
  l[#l + 1] = '{"id":"' .. id .. '","outcome":' .. outcome .. '}'
end

local function flush_notes()
  for chan, l in pairs(notes) do
    redis.call('PUBLISH', chan, '[' .. table.concat(l, ',') .. ']')
  end
end

-- Results live in the queue's `results` hash, with their expiry in the `expiry` sorted set:
-- two calls per batch rather than a SET per task. Readers ignore expired ones; the fetch
-- script's timer pass deletes them.
local res_h = {}
local res_z = {}

-- Stores a final outcome (when ttl > 0) and tells the reply channel and any watchers.
local function finish(now, id, outcome, ttl, chan, progress, watchers)
  if ttl and ttl > 0 then
    local v
    if progress then
      v = '{"outcome":' .. outcome .. ',"progress":' .. progress .. '}'
    else
      v = '{"outcome":' .. outcome .. '}'
    end
    res_h[#res_h + 1] = id
    res_h[#res_h + 1] = v
    res_z[#res_z + 1] = now + ttl
    res_z[#res_z + 1] = id
  end
  note(chan, id, outcome)
  if watchers then
    for w in string.gmatch(watchers, '%S+') do
      if w ~= chan then note(w, id, outcome) end
    end
  end
end

-- Writes what `finish` gathered and sends the notifications.
local function flush(results_key, expiry_key)
  if #res_h > 0 then
    redis.call('HSET', results_key, unpack(res_h))
    redis.call('ZADD', expiry_key, unpack(res_z))
  end
  flush_notes()
end

local function wake(key)
  redis.call('RPUSH', key, '1')
  redis.call('LTRIM', key, 0, 0)
end

-- Whether `id` holds the lease `attempt` (its message says that attempt, and it is leased).
local function fenced(env_key, lease_key, id, attempt)
  local blob = redis.call('HGET', env_key, id)
  local a, p, chan, js, i1 = parse(blob)
  if not a or a ~= tonumber(attempt) then return nil end
  if not redis.call('ZSCORE', lease_key, id) then return nil end
  return blob, a, p, chan, js, i1
end
