-- wrk script for bench/vs_litellm.sh: the same OpenAI chat completion body
-- and bearer key for the gateway and for LiteLLM.
wrk.method = "POST"
wrk.body = '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Say hello in five words"}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0123456789abcdef"
