-- Shared by every script (prepended at build time).
--
-- A stored message (a field of the queue's `env` hash) is
--   "<priority>|<reply channel>|<envelope JSON>"
-- and the number of its deliveries that are over (reclaimed, retried, or counted by the
-- publisher) lives apart, in the queue's `attempt` hash (absent: 0). A delivery is attempt
-- `stored + 1`; the count goes up only when a delivery ends without finishing, so the hot path
-- never writes it (the hash is empty while nothing fails) and a late worker whose lease was
-- reclaimed finds the count moved on. Lua string work
-- costs far more than a command on the server, so the hot paths (fetch, complete, extend)
-- never parse or copy a message: they move ids, and the outcome strings come pre-rendered.

local function parse(blob)
  if not blob then return nil end
  local i1 = string.find(blob, '|', 1, true)
  if not i1 then return nil end
  local i2 = string.find(blob, '|', i1 + 1, true)
  if not i2 then return nil end
  local p = tonumber(string.sub(blob, 1, i1 - 1))
  if not p or p < 0 or p > 9 or p % 1 ~= 0 then return nil end
  -- priority, reply channel, index of the last header '|'
  return p, string.sub(blob, i1 + 1, i2 - 1), i2
end

local function is_uuid(s)
  return type(s) == 'string' and #s == 36 and
    string.match(s, '^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$') ~= nil
end

-- Appends `v` to the list under `key` in the table `t` (grouping).
local function push_to(t, key, v)
  local l = t[key]
  if not l then
    l = {}
    t[key] = l
  end
  l[#l + 1] = v
end

-- Notifications, one message per channel per script run: '[{"id":..,"outcome":..},...]'.
local notes = {}
local function note(chan, entry)
  if not chan or chan == '' then return end
  push_to(notes, chan, entry)
end

-- Results live in the queue's `results` hash as "<expires ms>|<json>"; readers ignore expired
-- ones. What to sweep is in the `expiry` sorted set, one member per batch of results that
-- expire together (their ids, space-separated, scored by the expiry): two calls per batch
-- rather than a SET or a sorted-set entry per task. The fetch script's timer pass deletes
-- them (each only if its own stored expiry has passed: a newer result of the same id has an
-- entry of its own).
local res_h = {}
local res_z = {}

-- The expiry (ms) of a stored result "<expires ms>|<json>", or nil.
local function expires_of(v)
  local i = string.find(v, '|', 1, true)
  if not i then return nil end
  return tonumber(string.sub(v, 1, i - 1))
end

-- Stores a final outcome (unless `expires`, in ms, is empty) and tells the reply channels and
-- any watchers. `stored` is '{"outcome":..}', `entry` is '{"id":..,"outcome":..}'. (Numbers
-- come as strings: converting them in Lua costs more than the commands.)
local function finish(id, stored, entry, expires, chan, extra, progress, watchers)
  if expires and expires ~= '' then
    if progress then
      stored = string.sub(stored, 1, -2) .. ',"progress":' .. progress .. '}'
    end
    res_h[#res_h + 1] = id
    res_h[#res_h + 1] = expires .. '|' .. stored
    push_to(res_z, expires, id)
  end
  note(chan, entry)
  if extra ~= chan then note(extra, entry) end
  if watchers then
    for w in string.gmatch(watchers, '%S+') do
      if w ~= chan and w ~= extra then note(w, entry) end
    end
  end
end

-- Writes what `finish` gathered and sends the notifications.
local function flush(results_key, expiry_key)
  if #res_h > 0 then
    redis.call('HSET', results_key, unpack(res_h))
    local z = {}
    for e, l in pairs(res_z) do
      z[#z + 1] = e
      z[#z + 1] = table.concat(l, ' ')
    end
    redis.call('ZADD', expiry_key, unpack(z))
  end
  for chan, l in pairs(notes) do
    redis.call('PUBLISH', chan, '[' .. table.concat(l, ',') .. ']')
  end
end

local function wake(key)
  redis.call('RPUSH', key, '1')
  redis.call('LTRIM', key, 0, 0)
end

-- unique: a queue's unique keys (see backend/unique.rs) are the hash `uniq` (id -> digest of
-- the key it holds) and a string `uniq:<digest>` (the holder's id, with the key's TTL) per key,
-- named from the queue's `env` key (same hash tag, same slot). A script that ends tasks
-- releases their keys in the same run: one EXISTS when the queue holds none.
local function unique_hash(env_key) return string.sub(env_key, 1, -4) .. 'uniq' end
local function unique_release(env_key, ids)
  local uq = unique_hash(env_key)
  if #ids == 0 or redis.call('EXISTS', uq) == 0 then return end
  local digests = redis.call('HMGET', uq, unpack(ids))
  for i, d in ipairs(digests) do
    if d and redis.call('GET', uq .. ':' .. d) == ids[i] then redis.call('DEL', uq .. ':' .. d) end
  end
  redis.call('HDEL', uq, unpack(ids))
end

-- flow: rate and concurrency limits (see backend/flow.rs). `base` is the queue's key prefix
-- (its `env` key without `env`); a gated message has a line in `<base>gate`:
-- "<rate key>\31<interval us>\31<concurrency key>\31<max>".
local function gate_fields(line)
  local f = {}
  for part in string.gmatch(line .. '\31', '([^\31]*)\31') do f[#f + 1] = part end
  return f[1] or '', tonumber(f[2]) or 0, f[3] or '', tonumber(f[4]) or 0, f[5] or '',
    tonumber(f[6]) or 1
end

-- Ids stop being leased: each permit they hold goes to the next waiter of its key whose
-- message still exists (back at the head of its priority, idle workers woken). `ended`: the
-- tasks are gone for good, so their lines go too.
local function gate_release(base, ids, ended)
  local gk = base .. 'gate'
  if #ids == 0 or redis.call('EXISTS', gk) == 0 then return end
  local lines = redis.call('HMGET', gk, unpack(ids))
  for i, line in ipairs(lines) do
    if line then
      local _, _, ck = gate_fields(line)
      if ck ~= '' and redis.call('SREM', base .. 'conc:' .. ck, ids[i]) == 1 then
        while true do
          local w = redis.call('LPOP', base .. 'cwait:' .. ck)
          if not w then break end
          local p = parse(redis.call('HGET', base .. 'env', w))
          if p then
            redis.call('LPUSH', base .. 'r' .. p, w)
            wake(base .. 'wake')
            break
          end
        end
      end
    end
  end
  if ended then redis.call('HDEL', gk, unpack(ids)) end
end

-- The attempt `id` is on (a number), if it is leased and that is `attempt` (a string).
local function fenced(attempt_key, lease_key, id, attempt)
  local a = tonumber(redis.call('HGET', attempt_key, id) or '0') + 1
  if tostring(a) ~= attempt then return nil end
  if not redis.call('ZSCORE', lease_key, id) then return nil end
  return a
end
