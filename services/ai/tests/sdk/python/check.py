"""The official openai Python SDK against the ai gateway (run by tests/api/openai_sdk.rs).

Environment: GATEWAY_URL (…/v1), GATEWAY_KEY, MODEL, EMBED_MODEL (optional),
SCENARIO = basic | over_cap | cut. Prints one JSON object of what it saw;
exits non-zero when the SDK did not behave as the scenario requires.
"""
import json
import os
import sys

import openai

client = openai.OpenAI(
    base_url=os.environ["GATEWAY_URL"],
    api_key=os.environ["GATEWAY_KEY"],
    default_headers={"X-Org-ID": os.environ.get("ORG", "sdk-org")},
    max_retries=0,
    timeout=20,
)
model = os.environ["MODEL"]
scenario = os.environ["SCENARIO"]
messages = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": os.environ.get("PROMPT", "Say hello")},
]
seen = {}

if scenario == "basic":
    completion = client.chat.completions.create(model=model, messages=messages, max_tokens=16)
    seen["text"] = completion.choices[0].message.content
    seen["usage"] = [completion.usage.prompt_tokens, completion.usage.completion_tokens]

    stream = client.chat.completions.create(
        model=model, messages=messages, max_tokens=16, stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    seen["streamed"] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None, "usage comes last"
    seen["stream_usage"] = [last.usage.prompt_tokens, last.usage.completion_tokens]

    if os.environ.get("EMBED_MODEL"):
        embedding = client.embeddings.create(model=os.environ["EMBED_MODEL"], input="hello world")
        seen["embedding"] = embedding.data[0].embedding

    seen["models"] = [m.id for m in client.models.list()]
elif scenario == "over_cap":
    try:
        client.chat.completions.create(model=model, messages=messages, max_tokens=16)
        sys.exit("an over-cap request was admitted")
    except openai.RateLimitError as err:
        seen["error"] = type(err).__name__
        seen["retry_after"] = err.response.headers.get("retry-after")
        seen["code"] = err.code
elif scenario == "cut":
    received = ""
    try:
        for chunk in client.chat.completions.create(
            model=model, messages=messages, max_tokens=16, stream=True
        ):
            if chunk.choices:
                received += chunk.choices[0].delta.content or ""
        sys.exit(f"a cut stream looked complete: {received!r}")
    except openai.APIError as err:
        seen["error"] = type(err).__name__
        seen["received"] = received
        seen["message"] = err.message
else:
    sys.exit(f"unknown scenario {scenario}")

print(json.dumps(seen))
