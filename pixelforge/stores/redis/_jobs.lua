-- Helper functions, prepended to each script whose header names this file in its 'Uses:' line (EVAL has no
-- import); no KEYS or ARGV of their own.
-- The jobs of a task split over workers (``split_batches``) live in its hash as ``job:<n>:<field>``: state
-- (queued, running, completed, interrupted, failed, dropped), worker, entry (its queue entry), attempts,
-- progress (the job's own TaskProgress JSON), end (its TaskEnd JSON) and error.
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
