-- publish_unique: publish a message holding the unique key `uniq:<digest>` of its queue, unless
-- a live task holds it: then publish nothing and return the holder's id. A holder whose
-- message is gone (it ended without releasing, which no script does) frees the key.
--
-- KEYS: env, wake, delayed, r0 .. r9, attempt, denv, uniq (hash: id -> digest), the key
--       `uniq:<digest>` (string: the holder's id, with the key's TTL)
-- ARGV: key TTL (ms), id, priority, due (ms; empty: ready), stored message, attempt (empty: 0),
--       digest, gate line (empty: no limits; see backend/flow.rs)
-- Returns '' when published, else the holder's id.
local holder = redis.call('GET', KEYS[17])
if holder then
  if redis.call('HEXISTS', KEYS[1], holder) == 1 or redis.call('HEXISTS', KEYS[15], holder) == 1 then
    return holder
  end
  redis.call('HDEL', KEYS[16], holder)
end
local id = ARGV[2]
redis.call('SET', KEYS[17], id, 'PX', ARGV[1])
redis.call('HSET', KEYS[16], id, ARGV[7])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[14], id, ARGV[6]) end
if ARGV[8] ~= '' then redis.call('HSET', string.sub(KEYS[1], 1, -4) .. 'gate', id, ARGV[8]) end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], id, ARGV[5])
  redis.call('RPUSH', KEYS[4 + tonumber(ARGV[3])], id)
else
  -- not due yet: waits in `denv` (the fetch moves it to `env` when due)
  redis.call('HSET', KEYS[15], id, ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[4], id)
end
wake(KEYS[2])
return ''
