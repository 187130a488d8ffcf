-- wrk script for POST /v1/check (see scripts/load-http.sh): approvable calls
-- spread over the 100 accounts cmd/loadcheck creates, every caller->number
-- pair and call id distinct so neither the A->B repeat limit nor the retry
-- cache changes the answer.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
	thread:set("id", thread_id)
	thread_id = thread_id + 1
	table.insert(threads, thread)
end

function init(args)
	math.randomseed(os.time() + id)
	run = tostring(os.time()) .. "-" .. tostring(id)
	codes = {}
end

request = function()
	counter = counter + 1
	local acct = string.format("load%05d", counter % 100)
	local n = string.format("%07d", (counter * 7919 + id * 1000003) % 10000000)
	local b = string.format("555%04d", counter % 10000)
	-- Call ids are random hex like a SIP phone's Call-IDs: they land all over
	-- the decision log's call_id index, as production traffic does.
	local body = string.format(
		'{"user":"%s","domain":"load.example","source_ip":"8.8.8.8","user_agent":"wrk","concurrent_calls":1,' ..
		'"number":"+1201%s","caller":"+1212%s","call_id":"%08x%08x-%s@wrk"}',
		acct, b, n, math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), run)
	return wrk.format("POST", "/v1/check", { ["Content-Type"] = "application/json" }, body)
end

response = function(status, headers, body)
	local code = string.match(body, '"code":"(%w+)"') or tostring(status)
	codes[code] = (codes[code] or 0) + 1
end

done = function(summary, latency, requests)
	io.write(string.format("requests/s %.0f  p50 %.3f ms  p99 %.3f ms  errors %d\n",
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
	for _, t in ipairs(threads) do
		local c = t:get("codes")
		for k, v in pairs(c) do io.write(string.format("  code %s: %d\n", k, v)) end
	end
end
