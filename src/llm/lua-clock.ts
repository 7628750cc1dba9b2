/**
 * Lua for the shared clock of the limiter and the breaker: Redis's own time unless a test injects one, so that
 * workers whose clocks disagree still share one window and one cooldown.
 */
export const LUA_NOW_MS = `
local function now_ms(injected)
  if injected ~= '' then return tonumber(injected) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
