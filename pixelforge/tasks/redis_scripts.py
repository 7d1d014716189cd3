"""The Lua scripts of the Redis TaskStore: each is one atomic step, as each SQLite transaction is one.

Every script that changes what a watcher sees appends the matching event in the same step (a task
and its ``queued`` event, an image and its ``image`` event, a terminal state and its terminal event).
Task ids, times and JSON documents come in ARGV; keys in KEYS, in the order each script lists.
"""

from __future__ import annotations

# Appends an event to the task's stream under its next sequence number; returns the number.
_APPEND = """
local function append(task, events, etype, etime, data)
  local seq = redis.call('HINCRBY', task, 'last_seq', 1)
  redis.call('XADD', events, seq .. '-0', 'type', etype, 'time', etime, 'data', data)
  return seq
end
-- The time goes as the stored text: cjson would round it to 14 digits.
local function publish(channel, task_id, seq, etype, etime, data)
  local event = {task_id = task_id, seq = seq, type = etype, time = etime, data = cjson.decode(data)}
  redis.call('PUBLISH', channel, 'store ' .. cjson.encode({event = event}))
end
"""

# Ends a task's claim on the queue: the entry is acknowledged and dropped, the owner's slot freed.
_RELEASE = """
local function release(task, queue, group, active, queued, task_id)
  local entry = redis.call('HGET', task, 'entry')
  if entry and entry ~= '' then
    redis.call('XACK', queue, group, entry)
    redis.call('XDEL', queue, entry)
  end
  redis.call('SREM', active, task_id)
  redis.call('ZREM', queued, task_id)
end
"""

# KEYS: task, all, queued, active, queue, events, counter
# ARGV: id, max_active (-1: no limits), max_queued, event time, then the task's field/value pairs
CREATE = _APPEND + """
local task_id = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local max_active, max_queued = tonumber(ARGV[2]), tonumber(ARGV[3])
if max_active >= 0 then
  if redis.call('SCARD', KEYS[4]) >= max_active then return {'owner-full'} end
  if redis.call('ZCARD', KEYS[3]) >= max_queued then return {'queue-full'} end
end
local order = redis.call('INCR', KEYS[7])
redis.call('HSET', KEYS[1], 'order', order, 'last_seq', 0, 'last_preview', 0, 'attempts', 0, unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], order, task_id)
redis.call('ZADD', KEYS[3], order, task_id)
redis.call('SADD', KEYS[4], task_id)
local entry = redis.call('XADD', KEYS[5], '*', 'task', task_id)
redis.call('HSET', KEYS[1], 'entry', entry)
local position, size = redis.call('ZRANK', KEYS[3], task_id) + 1, redis.call('ZCARD', KEYS[3])
local data = '{"position": ' .. position .. ', "size": ' .. size .. '}'
append(KEYS[1], KEYS[6], 'queued', ARGV[4], data)
return {'ok', tostring(order), tostring(position), tostring(size)}
"""

# KEYS: task, queued, queue;  ARGV: id, worker id, now, entry id, group
# A delivered entry whose task is no longer queued (cancelled, pruned) is acknowledged and dropped.
CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' then
  redis.call('XACK', KEYS[3], ARGV[5], ARGV[4])
  redis.call('XDEL', KEYS[3], ARGV[4])
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'running', 'started_at', ARGV[3], 'worker_id', ARGV[2], 'entry', ARGV[4],
           'attempts', 1)
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# A worker took over the entry of a worker that stopped renewing its lease (XAUTOCLAIM).
# KEYS: task, events, queue, active, queued, images
# ARGV: id, new worker id, now, entry id, group, max attempts, event time, channel
# Returns 1: the new worker runs it (attempt n, a 'queued' event says why); 2: failed for good; 0: nothing to do.
TAKE_OVER = _APPEND + _RELEASE + """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then  -- its worker died between the delivery and the claim: an ordinary claim
  redis.call('HSET', KEYS[1], 'state', 'running', 'started_at', ARGV[3], 'worker_id', ARGV[2], 'attempts', 1)
  redis.call('ZREM', KEYS[5], ARGV[1])
  return 1
end
if state ~= 'running' then
  redis.call('XACK', KEYS[3], ARGV[5], ARGV[4])
  redis.call('XDEL', KEYS[3], ARGV[4])
  return 0
end
local previous = redis.call('HGET', KEYS[1], 'worker_id')
if previous == ARGV[2] then return 0 end  -- the task this worker runs now: nothing to take over
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local reason = 'worker ' .. previous .. ' stopped while running this task'
if attempts > tonumber(ARGV[6]) then
  local error = reason .. ' (' .. (attempts - 1) .. ' attempt(s), no more allowed)'
  redis.call('HSET', KEYS[1], 'state', 'failed', 'finished_at', ARGV[3], 'error', error, 'stop_reason', '',
             'stop_request', '')
  release(KEYS[1], KEYS[3], ARGV[5], KEYS[4], KEYS[5], ARGV[1])
  local data = cjson.encode({images = redis.call('LLEN', KEYS[6]), error = error, reason = 'worker-lost'})
  local seq = append(KEYS[1], KEYS[2], 'failed', ARGV[7], data)
  publish(ARGV[8], ARGV[1], seq, 'failed', ARGV[7], data)
  return 2
end
redis.call('HSET', KEYS[1], 'worker_id', ARGV[2], 'started_at', ARGV[3])
-- Queued again at the head, and taken at once by the worker that found it (its 'started' follows).
local data = cjson.encode({position = 1, size = redis.call('ZCARD', KEYS[5]) + 1, requeued = reason,
                           attempt = attempts})
local seq = append(KEYS[1], KEYS[2], 'queued', ARGV[7], data)
publish(ARGV[8], ARGV[1], seq, 'queued', ARGV[7], data)
return 1
"""

# KEYS: task, events;  ARGV: type, time, data, progress JSON ('' for none), the progress's job_no
# A skip ends the job it was meant for: once progress names another job, it has expired.
APPEND_EVENT = _APPEND + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[4] ~= '' then
  local request = redis.call('HGET', KEYS[1], 'stop_request')
  if request and request ~= '' and cjson.decode(request).action == 'skip' then
    local old = cjson.decode(redis.call('HGET', KEYS[1], 'progress'))
    if tostring(old.job_no) ~= ARGV[5] then redis.call('HSET', KEYS[1], 'stop_request', '') end
  end
  redis.call('HSET', KEYS[1], 'progress', ARGV[4])
end
return append(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
"""

# KEYS: task, events, images;  ARGV: image JSON, time
ADD_IMAGE = _APPEND + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('RPUSH', KEYS[3], ARGV[1])
return append(KEYS[1], KEYS[2], 'image', ARGV[2], ARGV[1])
"""

# KEYS: task, events, previews;  ARGV: bytes, media type, time, previews kept
ADD_PREVIEW = _APPEND + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local id = redis.call('HINCRBY', KEYS[1], 'last_preview', 1)
redis.call('HSET', KEYS[3], id, ARGV[1], id .. ':type', ARGV[2])
local gone = id - tonumber(ARGV[4])
if gone > 0 then redis.call('HDEL', KEYS[3], gone, gone .. ':type') end
local data = '{"id": ' .. id .. ', "media_type": ' .. cjson.encode(ARGV[2]) .. '}'
return {append(KEYS[1], KEYS[2], 'preview', ARGV[3], data), id}
"""

# The terminal state and the terminal event in one step.
# KEYS: task, events, queue, active, queued, images, previews
# ARGV: id, group, event time, event type, event data without 'images' (a JSON object), the reporting worker
# ('' for any), then field/value pairs
# Returns {seq, images}: the event's data is 'images' followed by the given data; {'taken', worker} when the
# task is another worker's now.
FINISH = _APPEND + _RELEASE + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local runner = redis.call('HGET', KEYS[1], 'worker_id')
if ARGV[6] ~= '' and runner and runner ~= ARGV[6] then return {'taken', runner} end
redis.call('HSET', KEYS[1], 'stop_request', '', unpack(ARGV, 7))
release(KEYS[1], KEYS[3], ARGV[2], KEYS[4], KEYS[5], ARGV[1])
local latest = redis.call('HGET', KEYS[1], 'last_preview')
for _, field in ipairs(redis.call('HKEYS', KEYS[7])) do
  if field ~= latest and field ~= latest .. ':type' then redis.call('HDEL', KEYS[7], field) end
end
local images = redis.call('LLEN', KEYS[6])
local data = '{"images": ' .. images
if ARGV[5] ~= '{}' then data = data .. ', ' .. string.sub(ARGV[5], 2) else data = data .. '}' end
return {append(KEYS[1], KEYS[2], ARGV[4], ARGV[3], data), images}
"""

# KEYS: task, events, queue, active, queued
# ARGV: id, group, request JSON, action, now, event time, cancelled event data
# An interrupt cancels a queued task (returns its event's seq); a running task keeps the request, never
# downgrading an interrupt to a skip. Returns false for an unknown task, else {state, seq or 0}.
REQUEST_STOP = _APPEND + _RELEASE + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state == 'queued' and ARGV[4] == 'interrupt' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[5], 'stop_reason', 'cancelled')
  release(KEYS[1], KEYS[3], ARGV[2], KEYS[4], KEYS[5], ARGV[1])
  return {'cancelled', append(KEYS[1], KEYS[2], 'cancelled', ARGV[6], ARGV[7])}
end
if state == 'running' then
  local existing = redis.call('HGET', KEYS[1], 'stop_request')
  if not (existing and existing ~= '' and cjson.decode(existing).action == 'interrupt' and ARGV[4] == 'skip') then
    redis.call('HSET', KEYS[1], 'stop_request', ARGV[3])
  end
end
return {state, 0}
"""

# A task that was running when its worker vanished for good (no heartbeat): interrupted, with its event.
# KEYS: task, events, queue, active, queued;  ARGV: id, group, now, event time, error
RECOVER = _APPEND + _RELEASE + """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
redis.call('HSET', KEYS[1], 'state', 'interrupted', 'finished_at', ARGV[3], 'stop_reason', 'restart',
           'stop_request', '', 'error', ARGV[5])
release(KEYS[1], KEYS[3], ARGV[2], KEYS[4], KEYS[5], ARGV[1])
local data = cjson.encode({reason = 'restart', error = ARGV[5]})
return {append(KEYS[1], KEYS[2], 'interrupted', ARGV[4], data), data}
"""

# The lease of a worker's task: the entry of the task it runs has its idle time reset, so that nobody
# reclaims it. Only entries it still owns (a worker that was too slow and lost one to XAUTOCLAIM does not
# take it back), and only of a task it runs: an entry handed to it while it was busy ages, and another
# worker claims it after one lease instead of it waiting behind a long task.
# KEYS: queue;  ARGV: group, worker id, task key prefix. Returns the renewed entries.
RENEW = """
local renewed = {}
for _, pending in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 100, ARGV[2])) do
  local entry = redis.call('XRANGE', KEYS[1], pending[1], pending[1])[1]
  if entry then
    local task = ARGV[3] .. entry[2][2]
    if redis.call('HGET', task, 'worker_id') == ARGV[2] and redis.call('HGET', task, 'state') == 'running' then
      table.insert(renewed, pending[1])
    end
  end
end
if #renewed > 0 then
  local args = {KEYS[1], ARGV[1], ARGV[2], 0}
  for _, entry in ipairs(renewed) do table.insert(args, entry) end
  table.insert(args, 'JUSTID')
  redis.call('XCLAIM', unpack(args))
end
return renewed
"""
