"""The official openai Python SDK against the ai gateway (run by tests/api/openai_sdk.rs).

Environment: GATEWAY_URL (…/v1), GATEWAY_KEY, MODEL, EMBED_MODEL (optional),
SCENARIO = basic | over_cap | cut | tools | tools_refused. Prints one JSON object of what it saw;
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
elif scenario == "tools":
    tools = [{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]},
        },
    }]
    ask = messages[:1] + [{"role": "user", "content": "What is the weather in Paris?"}]
    result = json.dumps({"temp_c": 18})

    first = client.chat.completions.create(
        model=model, messages=ask, tools=tools, tool_choice="auto", max_tokens=64)
    choice = first.choices[0]
    seen["finish_reason"] = choice.finish_reason
    call = choice.message.tool_calls[0]
    seen["call"] = [call.id, call.function.name, json.loads(call.function.arguments)]
    # The SDK's own message object goes back as the assistant turn, as its docs show.
    answer = client.chat.completions.create(
        model=model, tools=tools, tool_choice="auto", max_tokens=64,
        messages=ask + [choice.message, {"role": "tool", "tool_call_id": call.id, "content": result}],
    )
    seen["answer"] = answer.choices[0].message.content

    calls, finish = {}, None
    for chunk in client.chat.completions.create(
        model=model, messages=ask, tools=tools, tool_choice="auto", max_tokens=64, stream=True
    ):
        for c in chunk.choices:
            finish = c.finish_reason or finish
            for piece in c.delta.tool_calls or []:
                entry = calls.setdefault(piece.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = piece.id or entry["id"]
                if piece.function:
                    entry["name"] += piece.function.name or ""
                    entry["arguments"] += piece.function.arguments or ""
    streamed = calls[0]
    seen["stream_finish_reason"] = finish
    seen["stream_call"] = [streamed["id"], streamed["name"], json.loads(streamed["arguments"])]
    assistant = {"role": "assistant", "content": None, "tool_calls": [{
        "id": streamed["id"], "type": "function",
        "function": {"name": streamed["name"], "arguments": streamed["arguments"]},
    }]}
    text = ""
    for chunk in client.chat.completions.create(
        model=model, tools=tools, tool_choice="auto", max_tokens=64, stream=True,
        messages=ask + [assistant, {"role": "tool", "tool_call_id": streamed["id"], "content": result}],
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    seen["stream_answer"] = text
elif scenario == "tools_refused":
    try:
        client.chat.completions.create(
            model=model, messages=messages, max_tokens=16,
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        )
        sys.exit("tools were accepted for a provider without them")
    except openai.BadRequestError as err:
        seen["error"] = type(err).__name__
        seen["status"] = err.status_code
        seen["param"] = err.param
        seen["message"] = err.message
else:
    sys.exit(f"unknown scenario {scenario}")

print(json.dumps(seen))
