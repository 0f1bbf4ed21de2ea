-- Takes up to ARGV[1] messages from the lists in KEYS[3..] (in priority order) and records each
-- in kombu's `unacked` hash (KEYS[1]) and `unacked_index` sorted set (KEYS[2]) in the same
-- atomic step, so no message is ever only in this client's hands.
-- ARGV[2]: the time as float seconds (the index score, as kombu's QoS.append writes it).
-- Returns a flat list: list index (1-based among the list keys), delivery tag (or false), raw.
local max = tonumber(ARGV[1])
local out = {}
local n = 0
for i = 3, #KEYS do
  while n < max do
    local raw = redis.call('RPOP', KEYS[i])
    if not raw then break end
    local ok, msg = pcall(cjson.decode, raw)
    local tag = false
    local ex, rk = '', ''
    if ok and type(msg) == 'table' and type(msg.properties) == 'table' then
      local p = msg.properties
      if type(p.delivery_tag) == 'string' then tag = p.delivery_tag end
      if type(p.delivery_info) == 'table' then
        if type(p.delivery_info.exchange) == 'string' then ex = p.delivery_info.exchange end
        if type(p.delivery_info.routing_key) == 'string' then rk = p.delivery_info.routing_key end
      end
    end
    if tag then
      -- kombu stores [message, exchange, routing_key]; the message stays byte for byte.
      redis.call('HSET', KEYS[1], tag, '[' .. raw .. ', ' .. cjson.encode(ex) .. ', ' .. cjson.encode(rk) .. ']')
      redis.call('ZADD', KEYS[2], ARGV[2], tag)
    end
    out[#out + 1] = i - 2
    out[#out + 1] = tag
    out[#out + 1] = raw
    n = n + 1
  end
  if n >= max then break end
end
return out
