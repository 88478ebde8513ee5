-- Catalog reads only, every status logged (one file per thread).
local threads = 0
local out = os.getenv("FAULT_OUT")

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  statuses = io.open(out .. "/status-" .. tid, "w")
  paths = {}
  for p in string.gmatch(os.getenv("FAULT_PATHS"), "%S+") do
    paths[#paths + 1] = p
  end
  n = 0
end

function request()
  n = n + 1
  return wrk.format("GET", paths[n % #paths + 1])
end

function response(status, headers, body)
  statuses:write(status, "\n")
  statuses:flush()
end
