-- wrk script: the benchmark query of issue 4, with the token from API_TOKEN.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_TOKEN")
wrk.body = '{"query":"{ documents(first: 20) { edges { node { id title owner { email } } } } }"}'
