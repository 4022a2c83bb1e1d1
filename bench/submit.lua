-- POSTs 4 KiB bodies, each distinct (a run nonce, the thread, a counter),
-- so that every request is a new sample.
local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end
function init(args)
	nonce = args[1]
	n = 0
	filler = string.rep("vigil benchmark sample. ", 200)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/octet-stream"
end
function request()
	n = n + 1
	local head = string.format("%s %d %d\n", nonce, tid, n)
	return wrk.format(nil, nil, nil, head .. string.sub(filler, 1, 4096 - #head))
end
