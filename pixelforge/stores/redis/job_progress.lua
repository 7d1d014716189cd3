-- One job's progress. KEYS: task;  ARGV: job, its TaskProgress JSON.
-- Returns false (unknown task) or {started_at, then each job's state and progress ('' for none)}.
-- Uses: _jobs.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], job_field(ARGV[1], 'progress'), ARGV[2])
local reply = {redis.call('HGET', KEYS[1], 'started_at') or ''}
for job = 0, job_count(KEYS[1]) - 1 do
  table.insert(reply, redis.call('HGET', KEYS[1], job_field(job, 'state')) or '')
  table.insert(reply, redis.call('HGET', KEYS[1], job_field(job, 'progress')) or '')
end
return reply
