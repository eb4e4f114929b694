// The Responses API through the official openai npm package: responses.create whole and streamed, the
// responses.stream helper, a function-tool agent loop over previous_response_id, text.format json_schema (ajv) and responses.inputTokens.count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import OpenAI from 'openai';
import { client, model, assertBadRequest } from './helpers.js';

const ajv = new Ajv({ strict: true, allErrors: true });
const citySchema = {
  type: 'object',
  properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
  required: ['city', 'days'],
  additionalProperties: false,
};
const validateCity = ajv.compile(citySchema);
const weatherTool = { type: 'function', name: 'get_weather', description: 'Weather in a city', parameters: citySchema, strict: true };

// OpenAI's published Responses API schemas (tests/fixtures/openapi, with provenance): every body and event must match its own.
const openapi = JSON.parse(readFileSync(new URL('../fixtures/openapi/openai-responses-api.json', import.meta.url), 'utf8'));
const schemas = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
schemas.addSchema({ $id: 'openai', components: openapi.components });
// A stream event is checked against the event schema of its own type, for errors that name what is wrong.
const eventSchemas = Object.fromEntries(Object.entries(openapi.components.schemas)
  .filter(([name, schema]) => name.endsWith('Event') && schema.properties?.type?.enum?.length === 1)
  .map(([name, schema]) => [schema.properties.type.enum[0], name]));
function assertEvent(event) {
  assert.ok(eventSchemas[event.type], `unknown event type ${event.type}`);
  assertSchema(eventSchemas[event.type], event);
}
function assertSchema(name, value) {
  const validate = schemas.getSchema(`openai#/components/schemas/${name}`);
  assert.ok(validate(value), `${name}: ${schemas.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 2000)}`);
}

function assertCity(text, context) {
  const value = JSON.parse(text);
  assert.ok(validateCity(value), `${context}: ${text}\n${ajv.errorsText(validateCity.errors)}`);
  return value;
}

test('responses.create returns a response whose output_text is its message, and streams the same text', async () => {
  const request = { model, input: 'Tell me a story about a frog.', instructions: 'Tell short stories.', max_output_tokens: 20, temperature: 0 };
  const whole = await client.responses.create(request);
  assert.match(whole.id, /^resp_/);
  assert.equal(whole.object, 'response');
  assert.equal(whole.status, 'incomplete');
  assert.equal(whole.incomplete_details.reason, 'max_output_tokens');
  assert.equal(whole.instructions, 'Tell short stories.');
  assert.ok(whole.output_text.length > 0);
  assert.equal(whole.output[0].type, 'message');
  assert.equal(whole.output[0].content[0].text, whole.output_text);
  assert.equal(whole.usage.output_tokens, 20);
  assert.equal(whole.usage.total_tokens, whole.usage.input_tokens + 20);
  assert.equal(whole.usage.output_tokens_details.reasoning_tokens, 0);
  const { output_text: _, ...body } = whole;
  assertSchema('Response', body);

  const events = [];
  for await (const event of await client.responses.create({ ...request, stream: true })) events.push(event);
  assert.deepEqual(events.map(e => e.sequence_number), events.map((_, i) => i));
  for (const event of events) assertEvent(event);
  assert.deepEqual(events.slice(0, 4).map(e => e.type),
    ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
  assert.deepEqual(events.slice(-4).map(e => e.type),
    ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
  const deltas = events.filter(e => e.type === 'response.output_text.delta').map(e => e.delta);
  assert.ok(deltas.length > 1);
  // Greedy decoding: the streamed text is the whole response's text.
  assert.equal(deltas.join(''), whole.output_text);
  assert.equal(events.at(-1).response.output[0].content[0].text, whole.output_text);
});

test('the responses.stream helper gives text deltas and the final response', async () => {
  let streamed = '';
  const text = { format: { type: 'json_schema', name: 'city', schema: citySchema, strict: true } };
  const stream = client.responses.stream({ model, input: 'Name a city.', text, max_output_tokens: 120, temperature: 1 });
  stream.on('response.output_text.delta', event => { streamed += event.delta; });
  const final = await stream.finalResponse();
  assert.equal(final.status, 'completed');
  // The helper's final response is the snapshot its events built (output_text is added only for zod formats).
  assert.equal(final.output[0].content[0].text, streamed);
  assertCity(streamed, 'stream helper');
  assert.ok(final.usage.output_tokens > 0);
});

test('a function-tool agent loop: the model calls, the tool answers through previous_response_id', async () => {
  const asked = await client.responses.create({
    model, input: 'What is the weather in Oslo this week?', tools: [weatherTool], tool_choice: 'required',
    parallel_tool_calls: false, max_output_tokens: 200, temperature: 1,
  });
  assert.equal(asked.status, 'completed');
  const call = asked.output.find(item => item.type === 'function_call');
  assert.ok(call, JSON.stringify(asked.output));
  assert.equal(call.name, 'get_weather');
  assertCity(call.arguments, 'get_weather arguments');

  const answered = await client.responses.create({
    model, previous_response_id: asked.id, tools: [weatherTool], max_output_tokens: 12, temperature: 0,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ sky: 'clear' }) }],
  });
  assert.equal(answered.previous_response_id, asked.id);
  assert.ok(answered.output_text.length > 0);
  // The continuation reused the stored turn's prompt KV.
  assert.ok(answered.usage.input_tokens_details.cached_tokens >= asked.usage.input_tokens / 2, JSON.stringify(answered.usage));

  const items = await client.responses.inputItems.list(answered.id);
  assert.deepEqual(items.data.map(item => item.type), ['function_call_output']);
  const { output_text: _, ...body } = asked;
  assertSchema('Response', body);
  assertSchema('ResponseItemList', { object: 'list', data: items.data, first_id: items.data[0].id, last_id: items.data.at(-1).id, has_more: false });
});

test('streamed function calls arrive as added, argument deltas and done', async () => {
  const events = [];
  const stream = await client.responses.create({
    model, input: 'Weather in Rome?', tools: [weatherTool], tool_choice: { type: 'function', name: 'get_weather' },
    max_output_tokens: 200, temperature: 1, stream: true,
  });
  for await (const event of stream) events.push(event);
  for (const event of events) assertEvent(event);
  const added = events.find(e => e.type === 'response.output_item.added' && e.item.type === 'function_call');
  assert.equal(added.item.name, 'get_weather');
  const pieces = events.filter(e => e.type === 'response.function_call_arguments.delta').map(e => e.delta);
  assert.ok(pieces.length > 3, `the arguments came in ${pieces.length} deltas`);
  const deltas = pieces.join('');
  const done = events.find(e => e.type === 'response.function_call_arguments.done');
  assert.equal(deltas, done.arguments);
  assertCity(done.arguments, 'streamed arguments');
  assert.equal(events.at(-1).type, 'response.completed');
});

test('text.format json_schema output validates with ajv, and responses.parse parses it', async () => {
  const text = { format: { type: 'json_schema', name: 'city', schema: citySchema, strict: true } };
  const response = await client.responses.create({ model, input: 'Name a city.', text, max_output_tokens: 120, temperature: 1 });
  assert.equal(response.status, 'completed');
  assertCity(response.output_text, 'json_schema');
  assert.deepEqual(response.text.format.schema, citySchema);

  const parsed = await client.responses.parse({ model, input: 'Name a city.', text, max_output_tokens: 120, temperature: 1 });
  assert.deepEqual(parsed.output_parsed, assertCity(parsed.output_text, 'parse'));
});

test('stored responses are read back and deleted; unknown ids are 404', async () => {
  const created = await client.responses.create({ model, input: 'Hello', max_output_tokens: 4, metadata: { run: 'js' } });
  const read = await client.responses.retrieve(created.id);
  assert.equal(read.output_text, created.output_text);
  assert.deepEqual(read.metadata, { run: 'js' });
  await client.responses.delete(created.id);
  await assert.rejects(client.responses.retrieve(created.id), error => error instanceof OpenAI.NotFoundError);
  await assert.rejects(client.responses.create({ model, input: 'Hi', previous_response_id: 'resp_missing' }),
    error => error instanceof OpenAI.NotFoundError && error.param === 'previous_response_id');
});

test('responses.inputTokens.count gives the prompt tokens a response would have, with its stored conversation', async () => {
  const request = { model, input: 'Tell me a story about a frog.', instructions: 'Tell short stories.', tools: [weatherTool] };
  const counted = await client.responses.inputTokens.count(request);
  assert.equal(counted.object, 'response.input_tokens');
  const first = await client.responses.create({ ...request, max_output_tokens: 8, temperature: 0 });
  assert.equal(counted.input_tokens, first.usage.input_tokens);

  const next = { model, input: 'And then?', previous_response_id: first.id };
  const continued = await client.responses.inputTokens.count(next);
  const second = await client.responses.create({ ...next, max_output_tokens: 4, temperature: 0 });
  assert.equal(continued.input_tokens, second.usage.input_tokens);
  // The stored conversation is counted (its tools and instructions are not carried over, as at OpenAI).
  const alone = await client.responses.inputTokens.count({ model, input: 'And then?' });
  assert.ok(continued.input_tokens > alone.input_tokens, `${continued.input_tokens} counted with the stored conversation, ${alone.input_tokens} without`);
  await assert.rejects(client.responses.inputTokens.count({ model, input: 'Hi', previous_response_id: 'resp_missing' }),
    error => error instanceof OpenAI.NotFoundError && error.param === 'previous_response_id');
});

test('bad input is a 400 naming the parameter', async () => {
  await assertBadRequest(client.responses.create({ model, input: 'Hi', background: true }), 'background');
  await assertBadRequest(client.responses.create({ model, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x' }] }] }), 'input[0].content[0].type');
  await assertBadRequest(client.responses.create({ model, input: 'Hi', tools: [{ type: 'web_search' }] }), 'tools[0].type');
  await assertBadRequest(client.responses.create({ model, input: 'Hi', text: { format: { type: 'json_schema', name: 'x', schema: { type: 'strin' } } } }), 'text.format.schema');
  await assertBadRequest(client.responses.create({ model, input: 'Hi', text: { format: { type: 'json_schema', schema: { type: 'object' } } } }), 'text.format.name');
});
