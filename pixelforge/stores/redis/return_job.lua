-- A worker that shuts down gives its job of a split task back: queued again (a new entry at the end of the queue),
-- for another worker, instead of ending the whole batch. KEYS: task, queue;  ARGV: group, job, worker, task id.
-- Returns 1, or 0 when the job is not this worker's to give back (taken over, or the task has ended).
-- Uses: _jobs.lua
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
if redis.call('HGET', KEYS[1], job_field(ARGV[2], 'worker')) ~= ARGV[3] then return 0 end
local old = redis.call('HGET', KEYS[1], job_field(ARGV[2], 'entry'))
redis.call('XACK', KEYS[2], ARGV[1], old)
redis.call('XDEL', KEYS[2], old)
local entry = redis.call('XADD', KEYS[2], '*', 'task', ARGV[4], 'job', ARGV[2])
redis.call('HSET', KEYS[1], job_field(ARGV[2], 'state'), 'queued', job_field(ARGV[2], 'worker'), '',
           job_field(ARGV[2], 'entry'), entry, job_field(ARGV[2], 'progress'), '')
return 1
