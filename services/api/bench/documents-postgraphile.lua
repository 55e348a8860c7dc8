-- wrk script: the benchmark query of issue 18 in PostGraphile's naming (same
-- rows: the 20 newest documents with their owner's email).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"{ allDocuments(first: 20, orderBy: [CREATED_AT_DESC, ID_DESC]) { edges { node { id title userByOwnerId { email } } } } }"}'
