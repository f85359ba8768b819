-- Every check made before the handler, in one round trip.
--
-- KEYS: 1 allow, 2 ban, 3 reputation, 4 offences, 5 rate limit,
--       6 address failure log, 7 account failure log
-- ARGV: 1 rate limit kind ("log" or "counter"), 2 limit, 3 window ms,
--       4 unique log member, 5 login (0/1), 6 account known (0/1),
--       7 brute-force threshold, 8 brute-force window ms, 9 recovery per ms,
--       10 rate-limit penalty, 11 account lock minimum reputation,
--       12 ban base ms, 13 ban max ms, 14 ban jitter fraction, 15 offence memory ms
-- Returns {decision, retry_after_ms, remaining, reset_after_ms, reputation,
--          address failures, account failures, ban ms}, where decision is
--          0 allow, 1 allowlisted, 2 banned, 3 address blocked, 4 account locked,
--          5 rate limited, 6 rate limited and banned by it.

local kind, limit, window_ms, member = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local login, account = ARGV[5] == '1', ARGV[6] == '1'
local threshold, bf_window_ms = tonumber(ARGV[7]), tonumber(ARGV[8])
local recovery_per_ms, penalty = tonumber(ARGV[9]), tonumber(ARGV[10])
local lock_min_reputation = tonumber(ARGV[11])
local ban_params = {
  base_ms = tonumber(ARGV[12]), max_ms = tonumber(ARGV[13]), jitter = tonumber(ARGV[14]),
  offence_ttl_ms = tonumber(ARGV[15]), recovery_per_ms = recovery_per_ms,
}

if redis.call('EXISTS', KEYS[1]) == 1 then
  return {1, 0, limit, 0, 100, 0, 0, 0}
end

local ban_left = redis.call('PTTL', KEYS[2])
if ban_left > 0 then
  return {2, ban_left, 0, ban_left, 0, 0, 0, 0}
end

local now = now_ms()
local reputation = reputation_read(KEYS[3], now, recovery_per_ms)
if reputation <= 0 then
  local length = ban(KEYS[2], KEYS[4], KEYS[3], now, ban_params)
  return {2, length, 0, length, 0, 0, 0, length}
end
local score = math.floor(reputation)

local address_failures, account_failures = 0, 0
-- NOTE: attempts in flight at the same time all pass this check before any of
-- them is recorded; the login rate limit bounds how many that can be.
if login then
  address_failures = log_trim(KEYS[6], now, bf_window_ms)
  if address_failures >= threshold then
    local retry = log_retry_after(KEYS[6], now, bf_window_ms, address_failures, threshold)
    return {3, retry, 0, retry, score, address_failures, 0, 0}
  end
  if account then
    account_failures = log_trim(KEYS[7], now, bf_window_ms)
    if account_failures >= threshold and reputation < lock_min_reputation then
      local retry = log_retry_after(KEYS[7], now, bf_window_ms, account_failures, threshold)
      return {4, retry, 0, retry, score, address_failures, account_failures, 0}
    end
  end
end

local allowed, remaining, reset_ms
if kind == 'log' then
  allowed, remaining, reset_ms = log_hit(KEYS[5], now, limit, window_ms, member)
else
  allowed, remaining, reset_ms = counter_hit(KEYS[5], now, limit, window_ms)
end
if allowed == 1 then
  return {0, 0, remaining, reset_ms, score, address_failures, account_failures, 0}
end

reputation = reputation_write(KEYS[3], reputation - penalty, now, recovery_per_ms)
if reputation <= 0 then
  local length = ban(KEYS[2], KEYS[4], KEYS[3], now, ban_params)
  return {6, math.max(reset_ms, length), 0, reset_ms, 0, address_failures, account_failures, length}
end
return {5, reset_ms, 0, reset_ms, math.floor(reputation), address_failures, account_failures, 0}
