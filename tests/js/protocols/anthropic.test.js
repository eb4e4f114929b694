// Anthropic's Messages API through the official @anthropic-ai/sdk, against a server with an API key
// (ProtocolSdkTests: SERVER_URL, MODEL_ID, API_KEY). The key goes in x-api-key, as Claude Code sends it.
// The model is a story model: tool calls are forced (tool_choice), and the arguments are judged by ajv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { Ajv } from 'ajv';

const { SERVER_URL, MODEL_ID: model, API_KEY } = process.env;
if (!SERVER_URL || !model || !API_KEY) throw new Error('Set SERVER_URL, MODEL_ID and API_KEY.');

const connect = key => new Anthropic({ baseURL: SERVER_URL, apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': key }, maxRetries: 0, timeout: 120_000 });
const client = connect(API_KEY);

const weatherSchema = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 16 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
  },
  required: ['city', 'unit'],
  additionalProperties: false,
};
const validateWeather = new Ajv({ strict: true }).compile(weatherSchema);
const tools = [{ name: 'get_weather', description: 'The weather in a city', input_schema: weatherSchema }];
const question = [{ role: 'user', content: 'What is the weather in Paris?' }];
const forced = { model, max_tokens: 120, temperature: 0, tools, tool_choice: { type: 'tool', name: 'get_weather' }, messages: question };

function assertWeather(input) {
  assert.ok(validateWeather(input), `${JSON.stringify(input)}: ${JSON.stringify(validateWeather.errors)}`);
}

test('a message answers with text, a stop reason and usage', async () => {
  const message = await client.messages.create({ model, max_tokens: 16, temperature: 0, system: 'You tell stories.', messages: [{ role: 'user', content: 'Once upon a time' }] });
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.equal(message.model, model);
  assert.match(message.id, /^msg_/);
  assert.equal(message.content.length, 1);
  assert.equal(message.content[0].type, 'text');
  assert.ok(message.content[0].text.length > 0);
  assert.ok(['end_turn', 'max_tokens'].includes(message.stop_reason), message.stop_reason);
  assert.ok(message.usage.output_tokens >= 1 && message.usage.output_tokens <= 16);
  assert.ok(message.usage.input_tokens + message.usage.cache_read_input_tokens > 0);
});

test('a streamed message sends Anthropic\'s events in order and adds up to the whole one', async () => {
  const request = { model, max_tokens: 24, temperature: 0, messages: [{ role: 'user', content: 'Tell me about a dog.' }] };
  const whole = await client.messages.create(request);
  const stream = client.messages.stream(request);
  const types = [];
  let text = '';
  stream.on('streamEvent', event => {
    types.push(event.type);
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
  });
  const final = await stream.finalMessage();
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(types.at(-2), 'message_delta');
  assert.ok(types.includes('content_block_start') && types.includes('content_block_stop'));
  assert.equal(final.content[0].text, text);
  assert.equal(text, whole.content[0].text, 'greedy decoding gives the same text streamed or not');
  assert.equal(final.stop_reason, whole.stop_reason);
  assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
  // The second request found the first one's prompt in the prefix cache; together the counts are the prompt.
  assert.equal(final.usage.input_tokens + final.usage.cache_read_input_tokens, whole.usage.input_tokens + whole.usage.cache_read_input_tokens);
  assert.ok(final.usage.cache_read_input_tokens > 0, JSON.stringify(final.usage));
});

test('a stop sequence ends the text before it and is named', async () => {
  const request = { model, max_tokens: 24, temperature: 0, messages: [{ role: 'user', content: 'Tell me about a cat.' }] };
  const full = (await client.messages.create(request)).content[0].text;
  const stop = full.slice(6, 9);
  assert.equal(stop.length, 3, `the answer is too short: '${full}'`);
  const message = await client.messages.create({ ...request, stop_sequences: [stop] });
  assert.equal(message.stop_reason, 'stop_sequence');
  assert.equal(message.stop_sequence, stop);
  assert.equal(message.content[0].text, full.slice(0, full.indexOf(stop)));
});

test('a forced tool call returns a tool_use block, and its tool_result goes back in the next turn', async () => {
  const message = await client.messages.create(forced);
  assert.equal(message.stop_reason, 'tool_use');
  const call = message.content.find(block => block.type === 'tool_use');
  assert.ok(call, JSON.stringify(message.content));
  assert.match(call.id, /^toolu_/);
  assert.equal(call.name, 'get_weather');
  assertWeather(call.input);

  const turn = (result, isError) => [...question, { role: 'assistant', content: message.content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: result, is_error: isError }] }];
  const reply = await client.messages.create({ model, max_tokens: 16, temperature: 0, tools, messages: turn('Sunny and 21 degrees.', false) });
  assert.equal(reply.type, 'message');
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(reply.stop_reason), reply.stop_reason);
  // The result is in the prompt: a longer result (or one marked as an error) makes it longer.
  const count = async (result, isError) => (await client.messages.countTokens({ model, tools, messages: turn(result, isError) })).input_tokens;
  const short = await count('Sunny.', false);
  assert.ok(await count('Sunny and 21 degrees, with a light wind from the west.', false) > short);
  assert.ok(await count('Sunny.', true) > short);
  assert.equal(reply.usage.input_tokens + reply.usage.cache_read_input_tokens, await count('Sunny and 21 degrees.', false));
});

test('a streamed tool call sends its arguments as input_json_delta pieces that add up to the input', async () => {
  const stream = client.messages.stream(forced);
  const pieces = [];
  let started = null;
  stream.on('streamEvent', event => {
    if (event.type === 'content_block_start' && event.content_block.type === 'tool_use') started = event.content_block;
    if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
      assert.ok(started, 'the block starts before its arguments');
      pieces.push(event.delta.partial_json);
    }
  });
  const final = await stream.finalMessage();
  assert.equal(started.name, 'get_weather');
  assert.deepEqual(started.input, {});
  assert.ok(pieces.length >= 2, `the arguments came in ${pieces.length} piece(s): streamed as generated, not at the end`);
  const call = final.content.find(block => block.type === 'tool_use');
  assert.deepEqual(JSON.parse(pieces.join('')), call.input);
  assertWeather(call.input);
  assert.equal(final.stop_reason, 'tool_use');
});

test('count_tokens counts the system prompt, the messages and the tools', async () => {
  const count = async request => (await client.messages.countTokens({ model, ...request })).input_tokens;
  const plain = await count({ system: 'You are a weather bot.', messages: question });
  const longerSystem = await count({ system: 'You are a weather bot. You answer in one short sentence.', messages: question });
  const longerQuestion = await count({ system: 'You are a weather bot.', messages: [{ role: 'user', content: 'What is the weather in Paris and in Rome?' }] });
  const withTools = await count({ system: 'You are a weather bot.', tools, messages: question });
  assert.ok(plain > 0);
  assert.ok(longerSystem > plain && longerQuestion > plain && withTools > plain, `${plain} ${longerSystem} ${longerQuestion} ${withTools}`);
  // What a message reports for the same prompt.
  const message = await client.messages.create({ model, max_tokens: 1, system: 'You are a weather bot.', messages: question });
  assert.equal(message.usage.input_tokens + message.usage.cache_read_input_tokens, plain);
});

test('an unknown model is a 404 not_found_error', async () => {
  await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 8, messages: question }), error => {
    assert.ok(error instanceof Anthropic.NotFoundError, String(error));
    assert.equal(error.status, 404);
    assert.equal(error.error.type, 'error');
    assert.equal(error.error.error.type, 'not_found_error');
    assert.match(error.error.error.message, /no-such-model/);
    return true;
  });
});

test('a wrong x-api-key is a 401 authentication_error', async () => {
  await assert.rejects(connect('wrong-key').messages.create({ model, max_tokens: 8, messages: question }), error => {
    assert.ok(error instanceof Anthropic.AuthenticationError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.error.error.type, 'authentication_error');
    return true;
  });
});

test('bad input is a 400 invalid_request_error that says what is wrong', async () => {
  const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
  for (const [request, pattern] of [
    [{ model, max_tokens: 8, messages: [{ role: 'user', content: [image] }] }, /vision/],
    [{ model, messages: question }, /max_tokens/],
    [{ model, max_tokens: 8, messages: [{ role: 'system', content: 'x' }] }, /role/],
    [{ model, max_tokens: 8, tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: question }, /server tools/],
  ]) {
    await assert.rejects(client.messages.create(request), error => {
      assert.ok(error instanceof Anthropic.BadRequestError, String(error));
      assert.equal(error.error.error.type, 'invalid_request_error');
      assert.match(error.error.error.message, pattern);
      return true;
    });
  }
});
