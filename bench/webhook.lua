-- wrk script: signed push deliveries, each with a fresh X-GitHub-Delivery
-- (the signature covers only the body, so one body and one signature
-- serve every request).  Set by bench/webhook.sh through the environment.
local body = os.getenv("KILN_BENCH_BODY")
local sig = os.getenv("KILN_BENCH_SIG")
local counter = 0
local prefix = tostring(os.time())

-- Each wrk thread has its own Lua state: give each its own id prefix, or
-- two threads would send the same delivery ids (then rightly duplicates).
local nthreads = 0
function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
end

function init(args)
	prefix = prefix .. "-t" .. tostring(tid)
end

request = function()
	counter = counter + 1
	return wrk.format("POST", "/hooks/github", {
		["Content-Type"] = "application/json",
		["X-GitHub-Event"] = "push",
		["X-GitHub-Delivery"] = prefix .. "-" .. counter,
		["X-Hub-Signature-256"] = sig,
	}, body)
end

local statuses = {}
response = function(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end
