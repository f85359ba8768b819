-- Rate-limit windows. A rejected hit changes nothing, so it never extends a window.
-- Each function returns allowed (1 or 0), remaining, and the milliseconds until
-- the next hit is admitted (when rejected) or until the window resets (when allowed).

-- Exact sliding log: one sorted-set entry per admitted hit, scored by its time.
-- Members are unique, so hits that share a millisecond are counted separately.
local function log_hit(key, now, limit, window_ms, member)
  local count = log_trim(key, now, window_ms)
  if count >= limit then
    return 0, 0, log_retry_after(key, now, window_ms, count, limit)
  end
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window_ms)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return 1, limit - count - 1, math.max(1, tonumber(oldest[2]) + window_ms - now)
end

-- Milliseconds until the counter admits a hit, given the elapsed part of the
-- current window and the previous and current counts.
local function counter_retry_after(limit, window_ms, elapsed, previous, current)
  if current + 1 <= limit then
    -- Later in this window: previous * (window - t) / window + current + 1 <= limit.
    local admitted_at = window_ms - (limit - 1 - current) * window_ms / previous
    return math.max(1, math.ceil(admitted_at - elapsed))
  end
  -- In the next window, where the current count becomes the previous one.
  local admitted_at = window_ms - (limit - 1) * window_ms / current
  return math.max(1, math.ceil(window_ms - elapsed + admitted_at))
end

-- Sliding-window counter: counts of the current fixed window "c" (number "w")
-- and of the one before "p". The previous count is weighted by the share of it
-- that still lies inside the sliding window. The arithmetic matches
-- otel_flux/security/ratelimit.py, which the property tests exercise.
local function counter_hit(key, now, limit, window_ms)
  local index = math.floor(now / window_ms)
  local fields = redis.call('HMGET', key, 'w', 'c', 'p')
  local current_index = tonumber(fields[1])
  local current, previous = tonumber(fields[2]) or 0, tonumber(fields[3]) or 0
  if current_index == nil or index > current_index + 1 then
    current_index, current, previous = index, 0, 0
  elseif index == current_index + 1 then
    current_index, current, previous = index, 0, current
  end
  -- index < current_index happens only if the Redis clock steps back; the hit
  -- then counts in the newest window seen.
  local elapsed = math.min(window_ms, math.max(0, now - current_index * window_ms))
  local estimate = previous * (window_ms - elapsed) / window_ms + current
  if estimate + 1 > limit then
    return 0, 0, counter_retry_after(limit, window_ms, elapsed, previous, current)
  end
  redis.call('HSET', key, 'w', current_index, 'c', current + 1, 'p', previous)
  redis.call('PEXPIRE', key, 2 * window_ms)
  return 1, math.floor(limit - estimate - 1), math.max(1, window_ms - elapsed)
end
