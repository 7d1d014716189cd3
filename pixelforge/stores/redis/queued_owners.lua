-- The queue as the policy's order needs it, in one step: each queued task's id and owner, in rank order, then each
-- served identity's turn. KEYS: queued, turns;  ARGV: task key prefix.
-- Returns {{id, owner, id, owner, ...}, {identity, turn, identity, turn, ...}}.
local queue = {}
for _, task_id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  table.insert(queue, task_id)
  table.insert(queue, redis.call('HGET', ARGV[1] .. task_id, 'owner') or '')
end
return {queue, redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')}
