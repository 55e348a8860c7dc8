-- wrk script: POST /v1/generate with the internal key (bench/overhead.sh sets it).
wrk.method = "POST"
wrk.body = '{"prompt":"Say hello in five words","max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Internal-Api-Key"] = "bench-internal-key-0123456789"
