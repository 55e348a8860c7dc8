// The official openai Node SDK against the ai gateway (run by tests/api/openai_sdk.rs).
// Same environment and output as ../python/check.py.
import OpenAI from 'openai';

const env = process.env;
const client = new OpenAI({
  baseURL: env.GATEWAY_URL,
  apiKey: env.GATEWAY_KEY,
  defaultHeaders: { 'X-Org-ID': env.ORG ?? 'sdk-org' },
  maxRetries: 0,
  timeout: 20_000,
});
const model = env.MODEL;
const messages = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: env.PROMPT ?? 'Say hello' },
];
const seen = {};
const fail = (why) => { console.error(why); process.exit(1); };

if (env.SCENARIO === 'basic') {
  const completion = await client.chat.completions.create({ model, messages, max_tokens: 16 });
  seen.text = completion.choices[0].message.content;
  seen.usage = [completion.usage.prompt_tokens, completion.usage.completion_tokens];

  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 16, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  seen.streamed = chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta.content ?? '').join('');
  const last = chunks[chunks.length - 1];
  if (last.choices.length !== 0 || !last.usage) fail('usage comes last');
  seen.stream_usage = [last.usage.prompt_tokens, last.usage.completion_tokens];

  if (env.EMBED_MODEL) {
    const embedding = await client.embeddings.create({ model: env.EMBED_MODEL, input: 'hello world' });
    seen.embedding = embedding.data[0].embedding;
  }
  seen.models = [];
  for await (const m of client.models.list()) seen.models.push(m.id);
} else if (env.SCENARIO === 'over_cap') {
  try {
    await client.chat.completions.create({ model, messages, max_tokens: 16 });
    fail('an over-cap request was admitted');
  } catch (err) {
    if (!(err instanceof OpenAI.RateLimitError)) throw err;
    seen.error = 'RateLimitError';
    seen.retry_after = err.headers?.get?.('retry-after') ?? err.headers?.['retry-after'];
    seen.code = err.code;
  }
} else if (env.SCENARIO === 'cut') {
  let received = '';
  try {
    const stream = await client.chat.completions.create({ model, messages, max_tokens: 16, stream: true });
    for await (const chunk of stream) if (chunk.choices.length) received += chunk.choices[0].delta.content ?? '';
    fail(`a cut stream looked complete: ${received}`);
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    seen.error = err.constructor.name;
    seen.received = received;
    seen.message = err.message;
  }
} else if (env.SCENARIO === 'tools') {
  const tools = [{
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  }];
  const ask = [messages[0], { role: 'user', content: 'What is the weather in Paris?' }];
  const result = '{"temp_c": 18}';
  const common = { model, tools, tool_choice: 'auto', max_tokens: 64 };

  const first = await client.chat.completions.create({ ...common, messages: ask });
  const choice = first.choices[0];
  seen.finish_reason = choice.finish_reason;
  const call = choice.message.tool_calls[0];
  seen.call = [call.id, call.function.name, JSON.parse(call.function.arguments)];
  // The SDK's own message object goes back as the assistant turn, as its docs show.
  const answer = await client.chat.completions.create({
    ...common, messages: [...ask, choice.message, { role: 'tool', tool_call_id: call.id, content: result }],
  });
  seen.answer = answer.choices[0].message.content;

  const calls = {};
  let finish = null;
  for await (const chunk of await client.chat.completions.create({ ...common, messages: ask, stream: true })) {
    for (const c of chunk.choices) {
      finish = c.finish_reason ?? finish;
      for (const piece of c.delta.tool_calls ?? []) {
        const entry = (calls[piece.index] ??= { id: null, name: '', arguments: '' });
        entry.id = piece.id ?? entry.id;
        entry.name += piece.function?.name ?? '';
        entry.arguments += piece.function?.arguments ?? '';
      }
    }
  }
  const streamed = calls[0];
  seen.stream_finish_reason = finish;
  seen.stream_call = [streamed.id, streamed.name, JSON.parse(streamed.arguments)];
  const assistant = {
    role: 'assistant', content: null,
    tool_calls: [{ id: streamed.id, type: 'function', function: { name: streamed.name, arguments: streamed.arguments } }],
  };
  let text = '';
  for await (const chunk of await client.chat.completions.create({
    ...common, stream: true,
    messages: [...ask, assistant, { role: 'tool', tool_call_id: streamed.id, content: result }],
  })) if (chunk.choices.length) text += chunk.choices[0].delta.content ?? '';
  seen.stream_answer = text;
} else if (env.SCENARIO === 'tools_refused') {
  try {
    await client.chat.completions.create({
      model, messages, max_tokens: 16,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    fail('tools were accepted for a provider without them');
  } catch (err) {
    if (!(err instanceof OpenAI.BadRequestError)) throw err;
    seen.error = 'BadRequestError';
    seen.status = err.status;
    seen.param = err.param;
    seen.message = err.error?.message ?? err.message;
  }
} else {
  fail(`unknown scenario ${env.SCENARIO}`);
}
console.log(JSON.stringify(seen));
