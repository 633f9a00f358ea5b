-- Apply one order transition atomically: check the table and the version, write the hash,
-- account a fill (once per trade id) into the order and the position, append the event,
-- publish a notification. One round trip; observers never see it half-done.
-- KEYS: 1 order hash, 2 open set, 3 event stream, 4 positions hash, 5 applied-fills set
-- ARGV: 1 order_id, 2 new status, 3 expected version ('' = any), 4 channel, 5 stream maxlen,
--       6 wall-clock ns, 7 monotonic ns, 8 fill id ('' = none), 9 fill qty, 10 fill price,
--       11 fill value (qty * price, formatted by the caller), 12.. field/value pairs
local ALLOWED = __ALLOWED__
local TERMINAL = __TERMINAL__

local cur = redis.call('HMGET', KEYS[1], 'status', 'version', 'quantity', 'filled_quantity',
                       'average_price', 'instrument', 'side', 'ts_first_fill', 'ts_done', 'account')
if not cur[1] then
  return redis.error_reply('NBEXEC_NOTFOUND ' .. ARGV[1])
end
local status, version = cur[1], tonumber(cur[2])
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= version then
  return redis.error_reply('NBEXEC_STALE ' .. ARGV[3] .. ' ' .. version)
end

local new = ARGV[2]
local changes = {}
for i = 12, #ARGV, 2 do
  changes[ARGV[i]] = ARGV[i + 1]
end

if ARGV[8] ~= '' then
  if redis.call('SADD', KEYS[5], ARGV[8]) == 0 then
    return {version, status, 'DUPLICATE_FILL'}
  end
  local qty, price = tonumber(ARGV[9]), tonumber(ARGV[10])
  local filled_before = tonumber(cur[4])
  local filled = filled_before + qty
  if filled > tonumber(cur[3]) then
    redis.call('SREM', KEYS[5], ARGV[8])
    return redis.error_reply('NBEXEC_OVERFILL ' .. filled .. ' ' .. cur[3])
  end
  local avg = (tonumber(cur[5]) * filled_before + price * qty) / filled
  new = (filled == tonumber(cur[3])) and 'FILLED' or 'PARTIALLY_FILLED'
  if not (ALLOWED[status] and ALLOWED[status][new]) then
    redis.call('SREM', KEYS[5], ARGV[8])
    return redis.error_reply('NBEXEC_FORBIDDEN ' .. status .. ' ' .. new)
  end
  changes['filled_quantity'] = tostring(filled)
  changes['average_price'] = string.format('%.17g', avg)
  if cur[8] == '0' then changes['ts_first_fill'] = ARGV[7] end
  local leg = (cur[7] == 'BUY') and 'buy' or 'sell'
  redis.call('HINCRBY', KEYS[4], cur[6] .. '|' .. leg .. '_quantity', qty)
  redis.call('HINCRBYFLOAT', KEYS[4], cur[6] .. '|' .. leg .. '_value', ARGV[11])
elseif not (ALLOWED[status] and ALLOWED[status][new]) then
  return redis.error_reply('NBEXEC_FORBIDDEN ' .. status .. ' ' .. new)
end

version = version + 1
changes['status'] = new
changes['version'] = tostring(version)
if TERMINAL[new] then
  if cur[9] == '0' then changes['ts_done'] = ARGV[7] end
  redis.call('SREM', KEYS[2], ARGV[1])
else
  redis.call('SADD', KEYS[2], ARGV[1])
end
local flat = {}
for k, v in pairs(changes) do
  flat[#flat + 1] = k
  flat[#flat + 1] = v
end
redis.call('HSET', KEYS[1], unpack(flat))
local body = cjson.encode(changes)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*',
           'order_id', ARGV[1], 'version', tostring(version), 'from', status, 'to', new,
           'ts', ARGV[6], 'changes', body)
redis.call('PUBLISH', ARGV[4], cjson.encode({order_id = ARGV[1], account = cur[10],
           version = tostring(version), status = new, changes = body}))
return {version, new, 'OK'}
