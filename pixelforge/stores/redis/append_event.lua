-- An event appended to a task's stream; an event that carries progress stores that progress too.
-- KEYS: task, events;  ARGV: type, time, data, progress JSON ('' for none), the progress's job_no
-- Returns the event's seq, or {'ended', state} for a task that has ended (its terminal event stays its last).
-- A skip ends the job it was meant for: once progress names another job, it has expired (StopRequest.expires_between
-- states the rule; tests/tasks/test_store_contract_stop_rules.py checks this script against it).
-- Uses: _append.lua, _ended.lua
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
