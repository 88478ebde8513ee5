-- Mixed load for the fault tests: three reads to one write. Every status is
-- logged, and the id of every acknowledged (201) write, one file per
-- thread, so the runner can check that nothing acknowledged was lost.
local threads = 0
local out = os.getenv("FAULT_OUT")
local token = os.getenv("FAULT_TOKEN")

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  n = 0
  acked = io.open(out .. "/acked-" .. tid, "w")
  statuses = io.open(out .. "/status-" .. tid, "w")
end

function request()
  n = n + 1
  if n % 4 == 0 then
    local body = string.format(
      '{"sku":"F-%d-%d-%d","name":"Fault item %d","price":"1.00","stock":5}',
      tid, os.time(), n, n)
    return wrk.format("POST", "/api/v1/products", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token }, body)
  end
  return wrk.format("GET", "/api/v1/products?limit=5")
end

function response(status, headers, body)
  statuses:write(status, "\n")
  if status == 201 then
    local id = body:match('"id":(%d+)')
    if id then acked:write(id, "\n") end
  end
  statuses:flush()
  acked:flush()
end
