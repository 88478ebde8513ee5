-- bench/creates.lua -- POST /api/v1/products with a unique sku and no
-- slug, so that each create derives its slug from a name many products
-- share ("Bench Lamp", then bench-lamp-2, -3, ...). The staff access token
-- comes from CREATES_TOKEN.
--
--   CREATES_TOKEN=... wrk -t1 -c4 -d5s -s bench/creates.lua \
--       http://127.0.0.1:8080/api/v1/products
local token = os.getenv("CREATES_TOKEN") or ""
local thread_count = 0
local counter = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("prefix", string.format("BC%d-%d", os.time(), thread_count))
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"sku":"%s-%d","name":"Bench Lamp","price":"19.90","stock":5}', prefix, counter)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end
