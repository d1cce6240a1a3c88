-- 413 for a body larger than its route accepts, readable by any client.
-- A client that waits for "100 Continue" gets the answer at once. One that sends the body
-- anyway (Python's urllib) is still writing when the answer comes; closing then would give it
-- a broken pipe instead of the 413, so the body is read and dropped first (up to DRAIN_LIMIT
-- bytes, as nginx's lingering close does), then answered.
local DRAIN_LIMIT = 64 * 1024 * 1024
local BODY = '{"type":"about:blank","title":"Request Entity Too Large","status":413,' ..
    '"detail":"the body is larger than this route accepts: 64 KiB for /v1/predict, ' ..
    '16 MiB for /v1/predict/batch"}'

core.register_service("too_large", "http", function(applet)
    if applet.headers["expect"] == nil then
        local drained = 0
        while drained < DRAIN_LIMIT do
            local chunk = applet:receive()
            if chunk == nil or #chunk == 0 then break end
            drained = drained + #chunk
        end
    end
    applet:set_status(413, "Request Entity Too Large")
    applet:add_header("content-type", "application/problem+json")
    applet:add_header("content-length", tostring(#BODY))
    applet:add_header("connection", "close")
    applet:start_response()
    applet:send(BODY)
end)
