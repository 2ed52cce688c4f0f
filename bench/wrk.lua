-- POST one AdmissionReview body (file named by $BENCH_BODY) as application/json over
-- keep-alive connections, count every non-2xx answer, and print one parseable line:
--   BENCH_JSON {"requests":...,"p50_us":...,...}
--
-- BENCH_COLD=1: every request carries a Pod never sent before. The fixture's label value
-- "nonce-0000000000" is replaced by one unique per thread and request (same length), so
-- a server that remembers outcomes by Pod content cannot answer from memory.
local NONCE = "nonce-0000000000"
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BENCH_CLOSE") == "1" then
  -- one request per connection: every request makes a new TLS handshake
  wrk.headers["Connection"] = "close"
end

local cold = os.getenv("BENCH_COLD") == "1"
local head, tail
if cold then
  local at = assert(string.find(body, NONCE, 1, true), "fixture has no nonce label")
  head = string.sub(body, 1, at - 1)
  tail = string.sub(body, at + #NONCE)
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
end

if cold then
  function request()
    counter = counter + 1
    local nonce = string.format("n%02d-%012d", tid, counter)
    return wrk.format(nil, nil, nil, head .. nonce .. tail)
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
