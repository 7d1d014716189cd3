-- A new task queued, with its 'queued' event (its place in the queue), after the queue limits are checked.
-- KEYS: task, all, queued, active, queue, events, counter, turns
-- ARGV: id, max_active (-1: no limits), max_queued, event time, jobs (0: one entry for the whole task; n: one
-- entry per job, for several workers at once), max input bytes of the owner's active tasks (-1: no limit), this
-- task's input bytes, the task key prefix, the policy ('fair' or 'fifo'), the turn of an identity never served,
-- then the task's field/value pairs
-- Returns {'ok', order, position, size} (its place in the queue), or {'exists'}, {'owner-full'}, {'queue-full'}
-- or {'inputs-full'} when it is refused (nothing written).
-- Uses: _append.lua, _jobs.lua, _queue_order.lua
local task_id = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local max_active, max_queued = tonumber(ARGV[2]), tonumber(ARGV[3])
if max_active >= 0 then
  if redis.call('SCARD', KEYS[4]) >= max_active then return {'owner-full'} end
  if redis.call('ZCARD', KEYS[3]) >= max_queued then return {'queue-full'} end
end
local max_bytes, held = tonumber(ARGV[6]), tonumber(ARGV[7])
if max_bytes >= 0 and held > 0 then  -- the input images of the owner's queued and running tasks, this one's too
  for _, other in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    local inputs = redis.call('HGET', ARGV[8] .. other, 'inputs')
    if inputs and inputs ~= '' then held = held + (cjson.decode(inputs).bytes or 0) end
  end
  if held > max_bytes then return {'inputs-full'} end
end
local order = redis.call('INCR', KEYS[7])
redis.call('HSET', KEYS[1], 'order', order, 'last_seq', 0, 'last_preview', 0, 'attempts', 0, unpack(ARGV, 11))
redis.call('ZADD', KEYS[2], order, task_id)
redis.call('ZADD', KEYS[3], order, task_id)
redis.call('SADD', KEYS[4], task_id)
local jobs = tonumber(ARGV[5])
if jobs > 0 then
  redis.call('HSET', KEYS[1], 'jobs', jobs)
  for job = 0, jobs - 1 do
    local entry = redis.call('XADD', KEYS[5], '*', 'task', task_id, 'job', job)
    redis.call('HSET', KEYS[1], job_field(job, 'state'), 'queued', job_field(job, 'entry'), entry)
  end
else
  local entry = redis.call('XADD', KEYS[5], '*', 'task', task_id)
  redis.call('HSET', KEYS[1], 'entry', entry)
end
local position = place_of(KEYS[3], KEYS[8], ARGV[8], ARGV[9], ARGV[10], task_id)
local size = redis.call('ZCARD', KEYS[3])
local data = '{"position": ' .. position .. ', "size": ' .. size .. '}'
append(KEYS[1], KEYS[6], 'queued', ARGV[4], data)
return {'ok', tostring(order), tostring(position), tostring(size)}
