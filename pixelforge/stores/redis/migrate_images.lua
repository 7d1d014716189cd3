-- A task's images from before they were kept by index (a list in arrival order, which was batch order then).
-- KEYS: images. Returns how many were moved (0: nothing to do).
if redis.call('TYPE', KEYS[1]).ok ~= 'list' then return 0 end
local images = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
for _, image in ipairs(images) do redis.call('ZADD', KEYS[1], cjson.decode(image).index, image) end
return #images
