// Ollama's API through the official ollama npm package, against a server with an API key (ProtocolSdkTests:
// SERVER_URL, MODEL_ID, API_KEY, MODEL_FILE_BYTES, EMBEDDING_DIMENSIONS). The model is stories260K-chatml:
// tests/fixtures/models/MODELS.md gives the facts /api/tags must report. Structured output and tool arguments are
// judged by ajv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { Ajv } from 'ajv';

const { SERVER_URL: host, MODEL_ID: model, API_KEY } = process.env;
if (!host || !model || !API_KEY) throw new Error('Set SERVER_URL, MODEL_ID and API_KEY.');
const ollama = new Ollama({ host, headers: { Authorization: `Bearer ${API_KEY}` } });
const ajv = new Ajv({ strict: true });
const options = { temperature: 0, num_predict: 12 };
const messages = [{ role: 'user', content: 'Tell me about a dog.' }];

async function collect(stream) {
  const parts = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

function assertFinal(reply, numPredict) {
  assert.equal(reply.done, true);
  assert.ok(['stop', 'length'].includes(reply.done_reason), reply.done_reason);
  assert.ok(reply.eval_count >= 1 && reply.eval_count <= numPredict, `eval_count ${reply.eval_count}`);
  assert.ok(reply.prompt_eval_count >= 1);
  for (const field of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) assert.ok(Number.isInteger(reply[field]) && reply[field] >= 0, field);
  assert.ok(reply.total_duration >= reply.eval_duration, 'total_duration covers eval_duration');
  assert.ok(!Number.isNaN(Date.parse(reply.created_at)));
}

test('chat answers whole, and streamed chunks add up to the same answer', async () => {
  const whole = await ollama.chat({ model, messages, options });
  assert.equal(whole.model, model);
  assert.equal(whole.message.role, 'assistant');
  assert.ok(whole.message.content.length > 0);
  assertFinal(whole, options.num_predict);

  const parts = await collect(await ollama.chat({ model, messages, options, stream: true }));
  assert.ok(parts.length > 2, 'the answer streams in pieces');
  assert.ok(parts.slice(0, -1).every(part => part.done === false && part.message.role === 'assistant'));
  assertFinal(parts.at(-1), options.num_predict);
  assert.equal(parts.map(part => part.message.content).join(''), whole.message.content);
  assert.equal(parts.at(-1).eval_count, whole.eval_count);
});

test('the model name with :latest is the same model', async () => {
  const reply = await ollama.chat({ model: `${model}:latest`, messages, options });
  assert.equal(reply.model, `${model}:latest`);
  assert.ok(reply.message.content.length > 0);
});

test('generate answers whole and streamed; num_predict bounds it', async () => {
  const whole = await ollama.generate({ model, prompt: 'Once upon a time', options: { ...options, num_predict: 5 } });
  assert.ok(whole.response.length > 0);
  assert.equal(whole.done_reason, 'length');
  assert.equal(whole.eval_count, 5);
  const parts = await collect(await ollama.generate({ model, prompt: 'Once upon a time', options: { ...options, num_predict: 5 }, stream: true }));
  assert.equal(parts.map(part => part.response).join(''), whole.response);
  assertFinal(parts.at(-1), 5);
  const raw = await ollama.generate({ model, prompt: 'Once upon a time', raw: true, options });
  assert.ok(raw.prompt_eval_count < whole.prompt_eval_count + 1, 'a raw prompt skips the chat template');
});

test('list shows the model with the details of its GGUF file', async () => {
  const { models } = await ollama.list();
  const listed = models.find(m => m.name === `${model}:latest`);
  assert.ok(listed, JSON.stringify(models));
  assert.equal(listed.model, listed.name);
  assert.equal(listed.size, Number(process.env.MODEL_FILE_BYTES));
  assert.match(listed.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(listed.details.format, 'gguf');
  assert.equal(listed.details.family, 'llama');
  assert.equal(listed.details.parameter_size, '292.8K');
  assert.equal(listed.details.quantization_level, 'F32');
  const running = await ollama.ps();
  assert.ok(running.models.some(m => m.name === listed.name));
});

test('show gives the template, the GGUF metadata and the capabilities', async () => {
  const shown = await ollama.show({ model });
  assert.match(shown.template, /tool_call/);
  assert.equal(shown.model_info['general.architecture'], 'llama');
  assert.equal(Math.round(shown.model_info['general.parameter_count'] / 100), 2928, 'MODELS.md: 292.8K parameters');
  assert.ok(shown.capabilities.includes('completion') && shown.capabilities.includes('tools'), shown.capabilities);
  assert.equal(shown.details.family, 'llama');
  assert.equal((await ollama.version()).version.split('.').length, 3);
});

test('embed gives one vector per input; embeddings (the older route) one', async () => {
  const reply = await ollama.embed({ model, input: ['a cat', 'a dog'] });
  assert.equal(reply.embeddings.length, 2);
  for (const vector of reply.embeddings) assert.equal(vector.length, Number(process.env.EMBEDDING_DIMENSIONS));
  assert.notDeepEqual(reply.embeddings[0], reply.embeddings[1]);
  const single = await ollama.embeddings({ model, prompt: 'a cat' });
  assert.deepEqual(single.embedding, reply.embeddings[0]);
});

test('format with a JSON schema gives JSON that validates (ajv), whole and streamed; format json gives JSON', async () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 10 }, age: { type: 'integer', minimum: 0, maximum: 120 }, mood: { enum: ['happy', 'sad'] } },
    required: ['name', 'age', 'mood'],
    additionalProperties: false,
  };
  const validate = ajv.compile(schema);
  const request = { model, messages: [{ role: 'user', content: 'Describe a person.' }], format: schema, options: { temperature: 0, num_predict: 80 } };
  const whole = await ollama.chat(request);
  assert.ok(validate(JSON.parse(whole.message.content)), whole.message.content);
  const parts = await collect(await ollama.chat({ ...request, stream: true }));
  const streamed = parts.map(part => part.message.content).join('');
  assert.ok(validate(JSON.parse(streamed)), streamed);
  // Free-form JSON of story text rarely closes within num_predict: it must at least be an object the grammar keeps open.
  const json = await ollama.generate({ model, prompt: 'A person as JSON', format: 'json', options: { temperature: 0, num_predict: 30 } });
  assert.match(json.response, /^\{\s*"/);
  assert.doesNotMatch((await ollama.generate({ model, prompt: 'A person as JSON', options: { temperature: 0, num_predict: 30 } })).response, /^\{/);
});

test('tools: a call comes back with object arguments (forced with the tool_choice extension), whole and streamed, and its result goes back', async () => {
  const parameters = { type: 'object', properties: { city: { type: 'string', maxLength: 16 } }, required: ['city'], additionalProperties: false };
  const validate = ajv.compile(parameters);
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'The weather in a city', parameters } }];
  const request = { model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice: 'required', options: { temperature: 0, num_predict: 80 } };
  const whole = await ollama.chat(request);
  const call = whole.message.tool_calls?.[0];
  assert.ok(call, JSON.stringify(whole.message));
  assert.equal(call.function.name, 'get_weather');
  assert.ok(validate(call.function.arguments), JSON.stringify(call.function.arguments));

  const parts = await collect(await ollama.chat({ ...request, stream: true }));
  const streamedCalls = parts.flatMap(part => part.message.tool_calls ?? []);
  assert.equal(streamedCalls.length, 1);
  assert.deepEqual(streamedCalls[0].function.arguments, call.function.arguments);

  const reply = await ollama.chat({ model, tools, options, messages: [...request.messages, whole.message, { role: 'tool', tool_name: 'get_weather', content: 'Sunny.' }] });
  assert.equal(reply.done, true);
  assert.equal(reply.message.role, 'assistant');
});

test('errors are Ollama\'s {"error"} with the status: unknown model, images, unsupported routes, no key', async () => {
  const rejects = (promise, status, pattern) => assert.rejects(promise, error => {
    assert.equal(error.name, 'ResponseError', String(error));
    assert.equal(error.status_code, status);
    assert.match(error.error, pattern);
    return true;
  });
  await rejects(ollama.chat({ model: 'no-such-model', messages }), 404, /no-such-model/);
  await rejects(ollama.chat({ model, messages: [{ role: 'user', content: 'What is this?', images: ['iVBORw0KGgo='] }] }), 400, /images/);
  await rejects(ollama.pull({ model: 'llama3' }), 501, /not supported/);
  await rejects(ollama.delete({ model }), 501, /not supported/);
  await rejects(ollama.chat({ model, messages, options: { num_ctx: 10_000_000 } }), 400, /num_ctx/);
  await rejects(new Ollama({ host }).list(), 401, /API key/);
});
