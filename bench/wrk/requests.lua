-- Cycles through prepared requests and prints the exact latency percentiles as JSON when done.
-- The request file (first script argument) holds one request a line: METHOD <TAB> PATH <TAB> HEADERS <TAB> BODY,
-- HEADERS being "Name: value" pairs joined by the unit separator (\31), BODY either inline or "@file".
local requests = {}
local counter = 0
local bodies = {}

local function body_of(raw)
  if raw == "" then
    return nil
  end
  if raw:sub(1, 1) ~= "@" then
    return raw
  end
  local path = raw:sub(2)
  if bodies[path] == nil then
    local file = assert(io.open(path, "rb"))
    bodies[path] = file:read("*a")
    file:close()
  end
  return bodies[path]
end

function init(args)
  for line in io.lines(args[1]) do
    local method, path, headers, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local h = {}
    for pair in string.gmatch(headers, "[^\31]+") do
      local name, value = pair:match("^(.-): (.*)$")
      h[name] = value
    end
    requests[#requests + 1] = wrk.format(method, path, h, body_of(body))
  end
  -- Threads start at different places so that they do not ask for the same rows at the same time.
  counter = math.random(#requests) - 1
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

function done(summary, latency, _requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non_2xx_3xx": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, errors.status, errors.connect, errors.read, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
