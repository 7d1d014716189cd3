-- A worker claims a queue entry delivered to it: the task (or one job of a split task) is running now.
-- KEYS: task, queued, queue;  ARGV: id, worker id, now, entry id, group, job ('' for the whole task)
-- A delivered entry whose task is no longer queued (cancelled, pruned) is acknowledged and dropped; so is a
-- job's entry when its task has ended or the job was dropped. Returns 0 (nothing to run), 1 (run it; for a job:
-- of a task already running) or 2 (run this job, the task's first).
-- Uses: _jobs.lua
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
