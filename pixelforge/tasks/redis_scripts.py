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

# Whether the task is in a terminal state: one that no script moves it out of.
_ENDED = """
local function ended(task)
  local state = redis.call('HGET', task, 'state')
  return state == 'completed' or state == 'interrupted' or state == 'failed' or state == 'cancelled'
end
"""

# The jobs of a task split over workers (``split_batches``) live in its hash as ``job:<n>:<field>``: state
# (queued, running, completed, interrupted, failed, dropped), worker, entry (its queue entry), attempts,
# progress (the job's own TaskProgress JSON), end (its TaskEnd JSON) and error.
_JOBS = """
local function job_field(job, name) return 'job:' .. job .. ':' .. name end
local function job_count(task) return tonumber(redis.call('HGET', task, 'jobs') or '0') end
local function jobs_in(task, wanted)
  local found = {}
  for job = 0, job_count(task) - 1 do
    if redis.call('HGET', task, job_field(job, 'state')) == wanted then table.insert(found, job) end
  end
  return found
end
-- The jobs no worker has started never run: their entries leave the queue. With keep_one, the first of them
-- stays when no job runs, so that a worker still claims it, finds the stop and ends the task.
local function drop_waiting(task, queue, group, keep_one)
  local waiting = jobs_in(task, 'queued')
  local first = 1
  if keep_one and #jobs_in(task, 'running') == 0 then first = 2 end
  for i = first, #waiting do
    local entry = redis.call('HGET', task, job_field(waiting[i], 'entry'))
    redis.call('XACK', queue, group, entry)
    redis.call('XDEL', queue, entry)
    redis.call('HSET', task, job_field(waiting[i], 'state'), 'dropped')
  end
end
local function start_job(task, queued, task_id, job, worker, now)
  local starts = 0
  if redis.call('HGET', task, 'state') == 'queued' then
    redis.call('HSET', task, 'state', 'running', 'started_at', now, 'worker_id', worker)
    redis.call('ZREM', queued, task_id)
    starts = 1
  end
  redis.call('HSET', task, job_field(job, 'state'), 'running', job_field(job, 'worker'), worker,
             job_field(job, 'attempts'), 1)
  return starts
end
"""

# KEYS: task, all, queued, active, queue, events, counter
# ARGV: id, max_active (-1: no limits), max_queued, event time, jobs (0: one entry for the whole task; n: one
# entry per job, for several workers at once), max input bytes of the owner's active tasks (-1: no limit), this
# task's input bytes, the task key prefix, then the task's field/value pairs
CREATE = _APPEND + _JOBS + """
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
redis.call('HSET', KEYS[1], 'order', order, 'last_seq', 0, 'last_preview', 0, 'attempts', 0, unpack(ARGV, 9))
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
local position, size = redis.call('ZRANK', KEYS[3], task_id) + 1, redis.call('ZCARD', KEYS[3])
local data = '{"position": ' .. position .. ', "size": ' .. size .. '}'
append(KEYS[1], KEYS[6], 'queued', ARGV[4], data)
return {'ok', tostring(order), tostring(position), tostring(size)}
"""

# KEYS: task, queued, queue;  ARGV: id, worker id, now, entry id, group, job ('' for the whole task)
# A delivered entry whose task is no longer queued (cancelled, pruned) is acknowledged and dropped; so is a
# job's entry when its task has ended or the job was dropped. Returns 0 (nothing to run), 1 (run it; for a job:
# of a task already running) or 2 (run this job, the task's first).
CLAIM = _JOBS + """
local state = redis.call('HGET', KEYS[1], 'state')
if ARGV[6] ~= '' then
  if (state ~= 'queued' and state ~= 'running') or redis.call('HGET', KEYS[1], job_field(ARGV[6], 'state')) ~= 'queued'
  then
    redis.call('XACK', KEYS[3], ARGV[5], ARGV[4])
    redis.call('XDEL', KEYS[3], ARGV[4])
    return 0
  end
  return 1 + start_job(KEYS[1], KEYS[2], ARGV[1], ARGV[6], ARGV[2], ARGV[3])
end
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
# ARGV: id, new worker id, now, entry id, group, max attempts, event time, channel, job ('' for the whole task),
# overdue (1: XAUTOCLAIM found the entry idle past the lease; 0: the worker's own pending entry)
# Returns 1: the new worker runs it (attempt n, a 'queued' event says why; or the same worker, when its own entry is
# overdue: a claim whose reply it lost); 2: failed for good; 0: nothing to do.
# For a job: 0 nothing to do; 1 or 2 run it as CLAIM says (1 also for a job run again after its worker died: a
# 'started' event names the job, the new worker and why, while the task stays running); 3: its workers kept
# dying, end the job failed without running it (the reason in its 'error' field).
TAKE_OVER = _APPEND + _RELEASE + _JOBS + """
local state = redis.call('HGET', KEYS[1], 'state')
local job = ARGV[9]
if job ~= '' then
  local job_state = redis.call('HGET', KEYS[1], job_field(job, 'state'))
  if (state ~= 'queued' and state ~= 'running') or not job_state or job_state == 'dropped' then
    redis.call('XACK', KEYS[3], ARGV[5], ARGV[4])
    redis.call('XDEL', KEYS[3], ARGV[4])
    return 0
  end
  if job_state == 'queued' then return 1 + start_job(KEYS[1], KEYS[5], ARGV[1], job, ARGV[2], ARGV[3]) end
  -- running, or ended with the task's end still unstored (its worker died in between): run it again
  local previous = redis.call('HGET', KEYS[1], job_field(job, 'worker'))
  if previous == ARGV[2] then return job_state == 'running' and tonumber(ARGV[10]) or 0 end  -- as for a task
  local attempts = redis.call('HINCRBY', KEYS[1], job_field(job, 'attempts'), 1)
  redis.call('HSET', KEYS[1], job_field(job, 'state'), 'running', job_field(job, 'worker'), ARGV[2])
  local reason = 'worker ' .. previous .. ' stopped while running job ' .. (tonumber(job) + 1)
  if attempts > tonumber(ARGV[6]) then
    redis.call('HSET', KEYS[1], job_field(job, 'error'), reason .. ' (' .. (attempts - 1) ..
               ' attempt(s), no more allowed)')
    return 3
  end
  local data = cjson.encode({worker_id = ARGV[2], requeued = reason, attempt = attempts, job_no = tonumber(job)})
  local seq = append(KEYS[1], KEYS[2], 'started', ARGV[7], data)
  publish(ARGV[8], ARGV[1], seq, 'started', ARGV[7], data)
  return 1
end
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
-- Its own entry: when overdue (this worker stopped renewing it: it was never told of its claim, Redis went away
-- meanwhile), it runs the task now; else it is the task it runs, nothing to take over.
if previous == ARGV[2] then return tonumber(ARGV[10]) end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local reason = 'worker ' .. previous .. ' stopped while running this task'
if attempts > tonumber(ARGV[6]) then
  local error = reason .. ' (' .. (attempts - 1) .. ' attempt(s), no more allowed)'
  redis.call('HSET', KEYS[1], 'state', 'failed', 'finished_at', ARGV[3], 'error', error, 'stop_reason', '',
             'stop_request', '')
  release(KEYS[1], KEYS[3], ARGV[5], KEYS[4], KEYS[5], ARGV[1])
  local data = cjson.encode({images = redis.call('ZCARD', KEYS[6]), error = error, reason = 'worker-lost'})
  local seq = append(KEYS[1], KEYS[2], 'failed', ARGV[7], data)
  publish(ARGV[8], ARGV[1], seq, 'failed', ARGV[7], data)
  return 2
end
redis.call('HSET', KEYS[1], 'worker_id', ARGV[2], 'started_at', ARGV[3])
-- The task's view says so until the new run reports its own progress (the bar keeps where the lost run was).
local textinfo = 'Worker lost — requeued, attempt ' .. attempts
local stored = redis.call('HGET', KEYS[1], 'progress')
local progress = (stored and stored ~= '') and cjson.decode(stored) or {}
progress.textinfo, progress.eta_s = textinfo, cjson.null
redis.call('HSET', KEYS[1], 'progress', cjson.encode(progress))
-- Queued again at the head, and taken at once by the worker that found it (its 'started' follows).
local data = cjson.encode({position = 1, size = redis.call('ZCARD', KEYS[5]) + 1, requeued = reason,
                           attempt = attempts, textinfo = textinfo})
local seq = append(KEYS[1], KEYS[2], 'queued', ARGV[7], data)
publish(ARGV[8], ARGV[1], seq, 'queued', ARGV[7], data)
return 1
"""

# KEYS: task, events;  ARGV: type, time, data, progress JSON ('' for none), the progress's job_no
# Returns the event's seq, or {'ended', state} for a task that has ended (its terminal event stays its last).
# A skip ends the job it was meant for: once progress names another job, it has expired.
APPEND_EVENT = _APPEND + _ENDED + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ended(KEYS[1]) then return {'ended', redis.call('HGET', KEYS[1], 'state')} end
if ARGV[4] ~= '' then
  local request = redis.call('HGET', KEYS[1], 'stop_request')
  request = request and request ~= '' and cjson.decode(request)
  -- (a skip for named jobs of a split task expires with those jobs instead: FINISH_JOB)
  if request and request.action == 'skip' and type(request.jobs) ~= 'table' then
    local old = cjson.decode(redis.call('HGET', KEYS[1], 'progress'))
    if tostring(old.job_no) ~= ARGV[5] then redis.call('HSET', KEYS[1], 'stop_request', '') end
  end
  redis.call('HSET', KEYS[1], 'progress', ARGV[4])
end
return append(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
"""

# KEYS: task, events, images;  ARGV: image JSON, time
# Images are kept by their index in the batch, whichever job (and worker) ends first; a job run again after its
# worker died replaces the images of the same index.
ADD_IMAGE = _APPEND + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local index = cjson.decode(ARGV[1]).index
redis.call('ZREMRANGEBYSCORE', KEYS[3], index, index)
redis.call('ZADD', KEYS[3], index, ARGV[1])
return append(KEYS[1], KEYS[2], 'image', ARGV[2], ARGV[1])
"""

# A task's images from before they were kept by index (a list in arrival order, which was batch order then).
# KEYS: images. Returns how many were moved (0: nothing to do).
MIGRATE_IMAGES = """
if redis.call('TYPE', KEYS[1]).ok ~= 'list' then return 0 end
local images = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
for _, image in ipairs(images) do redis.call('ZADD', KEYS[1], cjson.decode(image).index, image) end
return #images
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
# task is another worker's now; {'ended', state} when it has ended already (a terminal state is final).
FINISH = _APPEND + _RELEASE + _ENDED + """
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
"""

# KEYS: task, events, queue, active, queued
# ARGV: id, group, request JSON, action, now, event time, cancelled event data
# An interrupt cancels a queued task (returns its event's seq); a running task keeps the request, never
# downgrading a stop (StopRequest.rank: skip < interrupt after the job < interrupt now). Returns false for an
# unknown task, else {state, seq or 0}.
# A split task: an interrupt drops its jobs that have not started; a skip names the jobs running now (none: no
# skip is kept).
REQUEST_STOP = _APPEND + _RELEASE + _JOBS + """
local function stop_rank(request)
  if request.action == 'skip' then return 0 end
  if request.when == 'after_job' then return 1 end
  return 2
end
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state == 'queued' and ARGV[4] == 'interrupt' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[5], 'stop_reason', 'cancelled')
  drop_waiting(KEYS[1], KEYS[3], ARGV[2], false)
  release(KEYS[1], KEYS[3], ARGV[2], KEYS[4], KEYS[5], ARGV[1])
  return {'cancelled', append(KEYS[1], KEYS[2], 'cancelled', ARGV[6], ARGV[7])}
end
if state == 'running' then
  local existing = redis.call('HGET', KEYS[1], 'stop_request')
  if not (existing and existing ~= '' and stop_rank(cjson.decode(existing)) > stop_rank(cjson.decode(ARGV[3]))) then
    local request = ARGV[3]
    if job_count(KEYS[1]) > 0 and ARGV[4] == 'skip' then
      local decoded = cjson.decode(request)
      decoded.jobs = jobs_in(KEYS[1], 'running')
      request = #decoded.jobs > 0 and cjson.encode(decoded) or existing
    end
    redis.call('HSET', KEYS[1], 'stop_request', request or '')
  end
  if job_count(KEYS[1]) > 0 and ARGV[4] == 'interrupt' then drop_waiting(KEYS[1], KEYS[3], ARGV[2], true) end
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

# One job of a split task ended. KEYS: task, queue;  ARGV: group, job, reporting worker ('' for any), the job's
# state, its TaskEnd JSON. An end that is not 'completed', or a pending interrupt, drops the jobs not started.
# Returns false (unknown task), {'taken', worker} (another worker runs the job now, or the task has ended), {'more'}
# (jobs still run or wait) or {'last', end of job 0, end of job 1, ...} ('' for a job that never ran). The last
# job's worker becomes the task's worker_id: FINISH takes the task's end from it alone. Its queue entry stays
# pending until then (FINISH releases it): a worker that dies in between leaves it to be taken over, and the job
# runs again; a stalled one that comes back finds whichever end is second refused.
FINISH_JOB = _JOBS + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local job = ARGV[2]
local runner = redis.call('HGET', KEYS[1], job_field(job, 'worker'))
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then
  return {'taken', redis.call('HGET', KEYS[1], 'worker_id') or ''}
end
if ARGV[3] ~= '' and runner ~= ARGV[3] then return {'taken', runner or ''} end
redis.call('HSET', KEYS[1], job_field(job, 'state'), ARGV[4], job_field(job, 'end'), ARGV[5])
local request = redis.call('HGET', KEYS[1], 'stop_request')
local interrupting = ARGV[4] ~= 'completed'
if request and request ~= '' then
  local decoded = cjson.decode(request)
  if decoded.action == 'interrupt' then interrupting = true end
  if decoded.action == 'skip' and type(decoded.jobs) == 'table' then  -- used up by this job
    local others = {}
    for _, named in ipairs(decoded.jobs) do
      if tostring(named) ~= job then table.insert(others, named) end
    end
    decoded.jobs = others
    redis.call('HSET', KEYS[1], 'stop_request', #others > 0 and cjson.encode(decoded) or '')
  end
end
if interrupting then drop_waiting(KEYS[1], KEYS[2], ARGV[1], false) end
local entry = redis.call('HGET', KEYS[1], job_field(job, 'entry'))
if #jobs_in(KEYS[1], 'queued') + #jobs_in(KEYS[1], 'running') > 0 then
  redis.call('XACK', KEYS[2], ARGV[1], entry)
  redis.call('XDEL', KEYS[2], entry)
  return {'more'}
end
redis.call('HSET', KEYS[1], 'entry', entry, 'worker_id', runner)
local ends = {'last'}
for other = 0, job_count(KEYS[1]) - 1 do
  table.insert(ends, redis.call('HGET', KEYS[1], job_field(other, 'end')) or '')
end
return ends
"""

# A worker that shuts down gives its job of a split task back: queued again (a new entry at the end of the queue),
# for another worker, instead of ending the whole batch. KEYS: task, queue;  ARGV: group, job, worker, task id.
# Returns 1, or 0 when the job is not this worker's to give back (taken over, or the task has ended).
RETURN_JOB = _JOBS + """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
if redis.call('HGET', KEYS[1], job_field(ARGV[2], 'worker')) ~= ARGV[3] then return 0 end
local old = redis.call('HGET', KEYS[1], job_field(ARGV[2], 'entry'))
redis.call('XACK', KEYS[2], ARGV[1], old)
redis.call('XDEL', KEYS[2], old)
local entry = redis.call('XADD', KEYS[2], '*', 'task', ARGV[4], 'job', ARGV[2])
redis.call('HSET', KEYS[1], job_field(ARGV[2], 'state'), 'queued', job_field(ARGV[2], 'worker'), '',
           job_field(ARGV[2], 'entry'), entry, job_field(ARGV[2], 'progress'), '')
return 1
"""

# One job's progress. KEYS: task;  ARGV: job, its TaskProgress JSON.
# Returns false (unknown task) or {started_at, then each job's state and progress ('' for none)}.
JOB_PROGRESS = _JOBS + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], job_field(ARGV[1], 'progress'), ARGV[2])
local reply = {redis.call('HGET', KEYS[1], 'started_at') or ''}
for job = 0, job_count(KEYS[1]) - 1 do
  table.insert(reply, redis.call('HGET', KEYS[1], job_field(job, 'state')) or '')
  table.insert(reply, redis.call('HGET', KEYS[1], job_field(job, 'progress')) or '')
end
return reply
"""

# The progress of a split task, combined over its jobs, with its event. Two workers' combinations can reach here
# in the other order than they were computed in: one that would move the bar back is not stored (nor is one after
# the task has ended). KEYS: task, events;  ARGV: time, progress JSON. Returns the event's seq, or 0.
SPLIT_PROGRESS = _APPEND + """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
local old = redis.call('HGET', KEYS[1], 'progress')
if old and old ~= '' and cjson.decode(ARGV[2]).progress < (cjson.decode(old).progress or 0) then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[2])
return append(KEYS[1], KEYS[2], 'progress', ARGV[1], ARGV[2])
"""

# The lease of a worker's task: the entry of the task (or job) it runs has its idle time reset, so that nobody
# reclaims it. Only entries it still owns (a worker that was too slow and lost one to XAUTOCLAIM does not
# take it back), and only of a task it runs: an entry handed to it while it was busy ages, and another
# worker claims it after one lease instead of it waiting behind a long task.
# Only entries of the task the worker reports running: one it could not end (the store failed it) is taken over
# after a lease instead of being held forever by an idle worker. (The last job's entry of a split task is not
# renewed for the moment its worker merges the ends and stores the task's: a worker that stalls for the rest of
# its lease there loses it to a rerun, and FINISH / FINISH_JOB then refuse whichever end comes second.)
# KEYS: queue;  ARGV: group, worker id, task key prefix, the id of the task the worker runs ('' for none).
# Returns the renewed entries.
RENEW = """
local renewed = {}
for _, pending in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 100, ARGV[2])) do
  local entry = redis.call('XRANGE', KEYS[1], pending[1], pending[1])[1]
  if entry and entry[2][2] == ARGV[4] then
    local task, job = ARGV[3] .. entry[2][2], entry[2][4]  -- fields: task <id> [job <n>]
    local worker_field = 'worker_id'
    if job then worker_field = 'job:' .. job .. ':worker' end
    if redis.call('HGET', task, worker_field) == ARGV[2] and redis.call('HGET', task, 'state') == 'running' then
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

# Every queued task of one owner (or everyone's) cancelled in one step, each with its event, in queue order.
# KEYS: queued, queue;  ARGV: group, owner ('' for everyone), now, event data, task key prefix, events key prefix,
# active key prefix. Returns {task id, seq, task id, seq, ...}.
CANCEL_QUEUED = _APPEND + _RELEASE + _JOBS + """
local ended = {}
for _, task_id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local task = ARGV[5] .. task_id
  local owner = redis.call('HGET', task, 'owner')
  if owner and (ARGV[2] == '' or owner == ARGV[2]) and redis.call('HGET', task, 'state') == 'queued' then
    redis.call('HSET', task, 'state', 'cancelled', 'finished_at', ARGV[3], 'stop_reason', 'cancelled')
    drop_waiting(task, KEYS[2], ARGV[1], false)
    release(task, KEYS[2], ARGV[1], ARGV[7] .. owner, KEYS[1], task_id)
    table.insert(ended, task_id)
    table.insert(ended, append(task, ARGV[6] .. task_id, 'cancelled', ARGV[3], ARGV[4]))
  end
end
return ended
"""
