-- Create an order once per idempotency key, atomically.
-- KEYS: 1 idempotency key, 2 order hash, 3 open set, 4 event stream
-- ARGV: 1 order_id, 2 channel, 3 stream maxlen, 4 wall-clock ns, 5.. field/value pairs
local existing = redis.call('GET', KEYS[1])
if existing then
  return {0, existing}
end
redis.call('SET', KEYS[1], ARGV[1])
local changes = {}
for i = 5, #ARGV, 2 do
  changes[ARGV[i]] = ARGV[i + 1]
end
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('SADD', KEYS[3], ARGV[1])
local body = cjson.encode(changes)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*',
           'order_id', ARGV[1], 'version', changes['version'], 'from', '', 'to', changes['status'],
           'ts', ARGV[4], 'changes', body)
redis.call('PUBLISH', ARGV[2], cjson.encode({order_id = ARGV[1], account = changes['account'],
           version = changes['version'], status = changes['status'], changes = body}))
return {1, ARGV[1]}
