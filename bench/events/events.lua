-- wrk script for POST /events (bench/events/run.py): closed loop, one request in flight per
-- connection. Keys rotate over EVENT_KEYS (CSV); every request carries SWITCHYARD_TOKEN.
-- done() prints one line: SWITCHYARD_EVENTS_JSON {requests, seconds, non2xx, latency us}.
local token = os.getenv("SWITCHYARD_TOKEN")
local keys = {}
for key in string.gmatch(os.getenv("EVENT_KEYS") or "BTC", "[^,]+") do
  keys[#keys + 1] = key
end
local ack = os.getenv("EVENT_ACK") == "durable" and "&ack=durable" or ""
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
local counter = 0

request = function()
  counter = counter + 1
  local key = keys[(counter % #keys) + 1]
  local body = '{"price":' .. (1000 + counter % 97) .. ',"volume":' .. (1 + counter % 9) .. '}'
  return wrk.format("POST", "/events?key=" .. key .. ack, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SWITCHYARD_EVENTS_JSON {"requests":%d,"seconds":%.3f,"non2xx":%d,"socketErrors":%d,' ..
    '"p50Us":%d,"p90Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
