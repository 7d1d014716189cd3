-- The terminal state and the terminal event in one step.
-- KEYS: task, events, queue, active, queued, images, previews
-- ARGV: id, group, event time, event type, event data without 'images' (a JSON object), the reporting worker
-- ('' for any), then field/value pairs
-- Returns {seq, images}: the event's data is 'images' followed by the given data; {'taken', worker} when the
-- task is another worker's now; {'ended', state} when it has ended already (a terminal state is final).
-- Uses: _append.lua, _release.lua, _ended.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ended(KEYS[1]) then return {'ended', redis.call('HGET', KEYS[1], 'state')} end
local runner = redis.call('HGET', KEYS[1], 'worker_id')
if ARGV[6] ~= '' and runner and runner ~= ARGV[6] then return {'taken', runner} end
redis.call('HSET', KEYS[1], 'stop_request', '', unpack(ARGV, 7))
release(KEYS[1], KEYS[3], ARGV[2], KEYS[4], KEYS[5], ARGV[1])
local latest = redis.call('HGET', KEYS[1], 'last_preview')
for _, field in ipairs(redis.call('HKEYS', KEYS[7])) do
  if field ~= latest and field ~= latest .. ':type' then redis.call('HDEL', KEYS[7], field) end
end
local images = redis.call('ZCARD', KEYS[6])
local data = '{"images": ' .. images
if ARGV[5] ~= '{}' then data = data .. ', ' .. string.sub(ARGV[5], 2) else data = data .. '}' end
return {append(KEYS[1], KEYS[2], ARGV[4], ARGV[3], data), images}
