-- A worker took over the entry of a worker that stopped renewing its lease (XAUTOCLAIM).
-- KEYS: task, events, queue, active, queued, images, turns
-- ARGV: id, new worker id, now, entry id, group, max attempts, event time, channel, job ('' for the whole task),
-- overdue (1: XAUTOCLAIM found the entry idle past the lease; 0: the worker's own pending entry), the turn of an
-- identity never served
-- Returns 1: the new worker runs it (attempt n, a 'queued' event says why; or the same worker, when its own entry is
-- overdue: a claim whose reply it lost); 2: failed for good; 0: nothing to do.
-- For a job: 0 nothing to do; 1 or 2 run it as CLAIM says (1 also for a job run again after its worker died: a
-- 'started' event names the job, the new worker and why, while the task stays running); 3: its workers kept
-- dying, end the job failed without running it (the reason in its 'error' field).
-- A whole task's entry that a claim has swapped to another task since the caller read it: 0 (the entry stays
-- pending here, and the next look reads whose it is now).
-- Uses: _append.lua, _release.lua, _jobs.lua, _queue_order.lua
local state = redis.call('HGET', KEYS[1], 'state')
local job = ARGV[9]
if job == '' and state and redis.call('HGET', KEYS[1], 'entry') ~= ARGV[4] then return 0 end
if job ~= '' then
  local job_state = redis.call('HGET', KEYS[1], job_field(job, 'state'))
  if (state ~= 'queued' and state ~= 'running') or not job_state or job_state == 'dropped' then
    redis.call('XACK', KEYS[3], ARGV[5], ARGV[4])
    redis.call('XDEL', KEYS[3], ARGV[4])
    return 0
  end
  if job_state == 'queued' then
    local starts = start_job(KEYS[1], KEYS[5], ARGV[1], job, ARGV[2], ARGV[3])
    if starts == 1 then take_turn(KEYS[7], redis.call('HGET', KEYS[1], 'owner'), ARGV[11]) end
    return 1 + starts
  end
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
  take_turn(KEYS[7], redis.call('HGET', KEYS[1], 'owner'), ARGV[11])
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
