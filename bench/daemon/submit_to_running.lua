-- wrk: POST {"sleep_ms": 0} tasks and histogram started - created from each 201 response
-- (whole milliseconds: the API's timestamps have millisecond resolution).
wrk.method = "POST"
wrk.body = '{"sleep_ms": 0}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args) hist = {}; seen = 0; unstarted = 0 end

function response(status, headers, body)
  local created = tonumber(body:match('"created":([%d%.]+)'))
  local started = tonumber(body:match('"started":([%d%.]+)'))
  if status ~= 201 or not created then return end
  seen = seen + 1
  if not started then unstarted = unstarted + 1; return end
  local ms = math.floor((started - created) * 1000 + 0.5)
  hist[ms] = (hist[ms] or 0) + 1
end

function done(summary, latency, requests)
  local all, total, unstarted_total = {}, 0, 0
  for _, t in ipairs(threads) do
    for ms, n in pairs(t:get("hist")) do all[ms] = (all[ms] or 0) + n end
    total = total + t:get("seen")
    unstarted_total = unstarted_total + t:get("unstarted")
  end
  local keys = {}
  for ms in pairs(all) do table.insert(keys, ms) end
  table.sort(keys)
  local want, acc, p99, max = math.ceil(total * 0.99), 0, nil, 0
  for _, ms in ipairs(keys) do
    acc = acc + all[ms]
    if not p99 and acc >= want then p99 = ms end
    max = ms
  end
  io.write(string.format("RESULT tasks=%d p99_ms=%s max_ms=%d not_started_in_reply=%d\n",
    total, tostring(p99), max, unstarted_total))
end
