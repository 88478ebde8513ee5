-- bench/popular.lua -- product-by-id reads with Zipf-like popularity, and
-- optionally a share of stock PATCHes of random products (bench/popular.sh).
--
-- Settings come from the environment: POPULAR_PRODUCTS (ids 1..N),
-- POPULAR_SKEW (the Zipf exponent, 1.0 by default), POPULAR_WRITES (the
-- share of requests that are writes, 0 to 1), POPULAR_TOKEN (a staff access
-- token, needed when POPULAR_WRITES > 0), POPULAR_WRITE_IDS (a file of the
-- products the PATCHes pick from, one per line: "id" for a product with
-- one variant, whose stock a PATCH of the product sets, "id variant" for
-- one with several, whose stock is that variant's; without it, any id
-- 1..N, and the PATCHes of products with several variants are 422s).
local n = tonumber(os.getenv("POPULAR_PRODUCTS") or "100000")
local skew = tonumber(os.getenv("POPULAR_SKEW") or "1.0")
local writes = tonumber(os.getenv("POPULAR_WRITES") or "0")
local token = os.getenv("POPULAR_TOKEN") or ""

-- The cumulative weights of ranks 1..n (rank r weighs 1 / r^skew); a draw
-- is a binary search in them. Rank r is product id (r * 7919) % n + 1, so
-- the popular products are spread over the catalog, not its first ids.
local cdf = {}
local total = 0
for r = 1, n do
  total = total + 1 / r ^ skew
  cdf[r] = total
end

local function popular_rank()
  local x, lo, hi = math.random() * total, 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < x then lo = mid + 1 else hi = mid end
  end
  return lo
end

local function id_of(rank)
  return (rank * 7919) % n + 1
end

local thread_seed = 0
function setup(thread)
  thread_seed = thread_seed + 1
  thread:set("seed", thread_seed)
end

local write_ids = {}

function init(args)
  math.randomseed(42 + (seed or 0))
  local path = os.getenv("POPULAR_WRITE_IDS")
  if path and path ~= "" then
    for line in io.lines(path) do
      local product, variant = line:match("^(%d+) ?(%d*)$")
      if product then
        local target = "/api/v1/products/" .. product
        if variant ~= "" then
          target = target .. "/variants/" .. variant
        end
        write_ids[#write_ids + 1] = target
      end
    end
  end
end

local function write_path()
  if #write_ids > 0 then
    return write_ids[math.random(1, #write_ids)]
  end
  return "/api/v1/products/" .. math.random(1, n)
end

request = function()
  if writes > 0 and math.random() < writes then
    local body = string.format('{"stock":%d}', math.random(0, 500))
    return wrk.format("PATCH", write_path(), {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
    }, body)
  end
  return wrk.format("GET", "/api/v1/products/" .. id_of(popular_rank()))
end
