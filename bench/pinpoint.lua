-- wrk script for the OpenPinpoint benchmark: one scenario per run, chosen by argument.
--
--   wrk ... -s bench/pinpoint.lua URL -- SCENARIO APP_ID ENDPOINTS USERS POOL POOL_USERS TAG DELAY_MS THREADS [STREAM FILE COUNT]
--
-- ENDPOINTS/USERS describe the preloaded data set (endpoints "ep-<i>", users "u-<i>").
-- POOL/POOL_USERS name users of 15 endpoints ("<POOL>-<k>") that exist only to be deleted;
-- each wrk thread deletes its own share of them, so no user is deleted twice, and a thread
-- that runs out stops (the harness then retries with a bigger pool). TAG keeps the ids
-- created by one run apart from every other run's. DELAY_MS > 0 paces each connection:
-- it waits DELAY_MS on average (at random) after each answer.
--
-- STREAM is "generate" (the default: each request made up as it is sent), "record" (also
-- write the first COUNT requests each thread sends to FILE.<thread number>, then stop that
-- thread) or "replay" (send the requests in FILE, round-robin, as they are). The harness
-- records a stream against the ceiling, signs each request with SigV4 in Python (wrk cannot
-- compute HMACs per request cheaply) and replays it, within the 15 minutes the signatures
-- stay valid. Both files hold requests as "<byte length>\n<raw HTTP request>".
--
-- Bodies follow what a mobile SDK sends on every session: the whole endpoint profile,
-- about 600 bytes, 10% of them with an address that other endpoints share.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

local scenario, app, endpoints, users, pool, pool_users, tag, pace
local tid_count = 1
local sent = 0
local pool_next
exhausted = 0

local headers = {
   ["Content-Type"] = "application/json",
   ["User-Agent"] = "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux lang/python#3.11.7 bench",
   ["X-Amz-Date"] = "20261128T120000Z",
   ["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/20261128/us-east-1/"
      .. "mobiletargeting/aws4_request, SignedHeaders=content-type;host;x-amz-date, "
      .. "Signature=3f1c5b0e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a291807",
}

local CHANNELS = { "SMS", "EMAIL", "GCM", "APNS" }
local CITIES = {
   { "Berlin", "DEU", 52.5, 13.4, "10115", "BE" },
   { "Lisbon", "PRT", 38.7, -9.1, "1100-148", "LI" },
   { "Austin", "USA", 30.3, -97.7, "78701", "TX" },
   { "Osaka", "JPN", 34.7, 135.5, "530-0001", "OS" },
}
local PLANS = { "free", "basic", "premium" }

local function address(own)
   if math.random() < 0.1 then
      return string.format("shared-%02d@example.com", math.random(0, 49))
   end
   return own
end

-- One endpoint profile; `user` is nil for an update that leaves the user alone.
local function profile(addr, user)
   local city = CITIES[math.random(#CITIES)]
   local body = string.format(
      '{"Address":"%s","ChannelType":"%s","OptOut":"NONE","EndpointStatus":"ACTIVE",'
         .. '"EffectiveDate":"2026-11-28T12:00:%02d.000Z",'
         .. '"Attributes":{"interests":["music","travel","sports"],"plan":["%s"],'
         .. '"last_screen":["checkout-%d"]},'
         .. '"Metrics":{"sessions":%d,"spend":%d.5},'
         .. '"Demographic":{"AppVersion":"4.%d.0","Locale":"en_US","Make":"Google",'
         .. '"Model":"Pixel 8","Platform":"android","PlatformVersion":"15",'
         .. '"Timezone":"Europe/Berlin"},'
         .. '"Location":{"City":"%s","Country":"%s","Latitude":%.1f,"Longitude":%.1f,'
         .. '"PostalCode":"%s","Region":"%s"}',
      addr, CHANNELS[math.random(#CHANNELS)], math.random(0, 59),
      PLANS[math.random(#PLANS)], math.random(1, 40), math.random(1, 500),
      math.random(0, 900), math.random(0, 9),
      city[1], city[2], city[3], city[4], city[5], city[6])
   if user then
      body = body .. string.format(
         ',"User":{"UserId":"%s","UserAttributes":{"tier":["gold"],"signup":["2026"]}}', user)
   end
   return body .. "}"
end

-- 30% new endpoints (each its own new user), 70% updates of preloaded endpoints.
local function endpoint_item()
   sent = sent + 1
   if math.random() < 0.3 then
      local id = string.format("c-%s-%d-%d", tag, tid, sent)
      return id, profile(address(id .. "@example.com"), "cu-" .. id)
   end
   local i = math.random(0, endpoints - 1)
   return "ep-" .. i, profile(address(string.format("+1555%07d", i)), nil)
end

local function update()
   local id, body = endpoint_item()
   return wrk.format("PUT", "/v1/apps/" .. app .. "/endpoints/" .. id, headers, body)
end

local function batch()
   local items = {}
   for n = 1, 100 do
      local id, body = endpoint_item()
      items[n] = '{"Id":"' .. id .. '",' .. body:sub(2)
   end
   local body = '{"Item":[' .. table.concat(items, ",") .. "]}"
   return wrk.format("PUT", "/v1/apps/" .. app .. "/endpoints", headers, body)
end

local function get()
   local i = math.random(0, endpoints - 1)
   return wrk.format("GET", "/v1/apps/" .. app .. "/endpoints/ep-" .. i, headers)
end

local function user()
   local u = math.random(0, users - 1)
   return wrk.format("GET", "/v1/apps/" .. app .. "/users/u-" .. u, headers)
end

local function delete()
   local k = pool_next
   if k >= pool_users then
      -- Nothing left to delete: stop this thread instead of sending a request that fails.
      exhausted = 1
      wrk.thread:stop()
      return get()
   end
   pool_next = pool_next + tid_count
   return wrk.format("DELETE", "/v1/apps/" .. app .. "/users/" .. pool .. "-" .. k, headers)
end

local function mix()
   local r = math.random()
   if r < 0.60 then return get() end
   if r < 0.90 then return update() end
   if r < 0.95 then return user() end
   return delete()
end

local function get_app()
   return wrk.format("GET", "/v1/apps/" .. app, headers)
end

local function create_app()
   sent = sent + 1
   local body = string.format('{"Name":"bench-%s-%d-%d","tags":{"team":"bench"}}', tag, tid, sent)
   return wrk.format("POST", "/v1/apps", headers, body)
end

local SCENARIOS = {
   UpdateEndpoint = update,
   UpdateEndpointsBatch = batch,
   GetEndpoint = get,
   GetUserEndpoints = user,
   DeleteUserEndpoints = delete,
   Mix = mix,
   GetApp = get_app,
   CreateApp = create_app,
}

-- The first `count` requests of `generate`, also written to `path`; then the thread stops.
local function recorder(generate, path, count)
   local file = assert(io.open(path, "wb"))
   local written = 0
   return function()
      local raw = generate()
      if file ~= nil then
         file:write(#raw, "\n", raw)
         written = written + 1
         if written >= count then
            file:close()
            file = nil
            wrk.thread:stop()
         end
      end
      return raw
   end
end

-- The requests in `path`, round-robin; each thread starts at its own share of them.
local function replayer(path)
   local file = assert(io.open(path, "rb"))
   local data = file:read("*a")
   file:close()
   local ring, at = {}, 1
   while at <= #data do
      local newline = data:find("\n", at, true)
      local length = tonumber(data:sub(at, newline - 1))
      ring[#ring + 1] = data:sub(newline + 1, newline + length)
      at = newline + length + 1
   end
   local next_one = math.floor((tid - 1) * #ring / tid_count)
   return function()
      next_one = next_one % #ring + 1
      return ring[next_one]
   end
end

function init(args)
   scenario = args[1]
   app = args[2]
   endpoints = tonumber(args[3])
   users = tonumber(args[4])
   pool = args[5]
   pool_users = tonumber(args[6])
   tag = args[7]
   pace = tonumber(args[8])
   tid_count = tonumber(args[9])
   pool_next = tid - 1
   math.randomseed(tid * 7919 + #tag)
   local generate = SCENARIOS[scenario]
   if generate == nil then
      error("unknown scenario " .. tostring(scenario))
   end
   local stream = args[10] or "generate"
   if stream == "generate" then
      request = generate
   elseif stream == "record" then
      request = recorder(generate, args[11] .. "." .. tid, tonumber(args[12]))
   elseif stream == "replay" then
      request = replayer(args[11])
   else
      error("unknown stream " .. stream)
   end
   if pace > 0 then
      -- Uniform in [0, 2 * pace]: the mean is `pace`, and connections do not fall into
      -- step (a fixed delay lines them up into bursts that queue behind each other).
      delay = function() return math.random(0, 2 * pace) end
   end
end

function done(summary, latency, requests)
   local ran_out = 0
   for _, thread in ipairs(threads) do
      ran_out = ran_out + thread:get("exhausted")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH-RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},'
         .. '"exhausted_threads":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, ran_out))
end
