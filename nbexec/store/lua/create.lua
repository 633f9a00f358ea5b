-- Create an order once per idempotency key, atomically, at the end of the hops it already took.
-- KEYS: 1 idempotency key, 2 order hash, 3 open set, 4 event stream
-- ARGV: 1 order_id, 2 channel, 3 stream maxlen, 4 wall-clock ns, 5 hop path ("NEW,PENDING_SEND,SENT"),
--       6.. field/value pairs (status and version are the path's last state and length)
local ALLOWED = __ALLOWED__
local TERMINAL = __TERMINAL__

local existing = redis.call('GET', KEYS[1])
if existing then
  return {0, existing}
end
local path = {}
for status in string.gmatch(ARGV[5], '[^,]+') do
  path[#path + 1] = status
end
if path[1] ~= 'NEW' then
  return redis.error_reply('NBEXEC_FORBIDDEN - ' .. tostring(path[1]))
end
for i = 2, #path do
  if not (ALLOWED[path[i - 1]] and ALLOWED[path[i - 1]][path[i]]) then
    return redis.error_reply('NBEXEC_FORBIDDEN ' .. path[i - 1] .. ' ' .. path[i])
  end
end
local fields = {}
for i = 6, #ARGV, 2 do
  fields[ARGV[i]] = ARGV[i + 1]
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
if TERMINAL[path[#path]] then
  redis.call('SREM', KEYS[3], ARGV[1])
else
  redis.call('SADD', KEYS[3], ARGV[1])
end
-- One event per hop: the first carries every field (as of NEW), the others the move itself.
local first = {}
for k, v in pairs(fields) do first[k] = v end
first['status'] = 'NEW'
first['version'] = '1'
local from = ''
for i = 1, #path do
  local changes = (i == 1) and first or {status = path[i], version = tostring(i)}
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*',
             'order_id', ARGV[1], 'version', tostring(i), 'from', from, 'to', path[i],
             'ts', ARGV[4], 'changes', cjson.encode(changes))
  from = path[i]
end
redis.call('PUBLISH', ARGV[2], cjson.encode({order_id = ARGV[1], account = fields['account'],
           version = fields['version'], status = fields['status'], changes = cjson.encode(fields)}))
return {1, ARGV[1]}
