// Tool calling through the official openai npm package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, model, weatherSchema } from './helpers.js';

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather forecast for a city',
    parameters: weatherSchema,
  },
}];
const messages = [{ role: 'user', content: 'What is the weather in Paris for the next three days?' }];
const request = { model, messages, tools, tool_choice: 'required', parallel_tool_calls: false, temperature: 0, max_tokens: 200 };

function assertWeatherArguments(text) {
  const args = JSON.parse(text);
  assert.deepEqual(Object.keys(args).sort(), ['days', 'location', 'unit']);
  assert.equal(typeof args.location, 'string');
  assert.ok(args.location.length <= 24);
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit));
  assert.ok(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7);
}

test('a required tool choice returns a call with valid arguments', async () => {
  const completion = await client.chat.completions.create(request);
  const choice = completion.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, 'get_weather');
  assertWeatherArguments(call.function.arguments);
});

test('the SDK stream helper accumulates the streamed call', async () => {
  const stream = client.chat.completions.stream({ ...request, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  const final = await stream.finalChatCompletion();
  const choice = final.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls[0].function.name, 'get_weather');
  assertWeatherArguments(choice.message.tool_calls[0].function.arguments);
});

test('streamed arguments arrive in several deltas after the name, and add up to the call', async () => {
  const stream = await client.chat.completions.create({ ...request, tool_choice: { type: 'function', function: { name: 'get_weather' } }, stream: true });
  const pieces = [];
  let name = null;
  for await (const chunk of stream) {
    for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
      if (call.function?.name) {
        assert.equal(pieces.length, 0, 'the name comes first');
        name = call.function.name;
      }
      if (call.function?.arguments) pieces.push(call.function.arguments);
    }
  }
  assert.equal(name, 'get_weather');
  assert.ok(pieces.length > 3, `the arguments came in ${pieces.length} deltas`);
  assertWeatherArguments(pieces.join(''));
});

test('an agent loop: call, tool result, answer', async () => {
  const first = await client.chat.completions.create(request);
  const call = first.choices[0].message.tool_calls[0];
  const answer = await client.chat.completions.create({
    model, tools, tool_choice: 'none', temperature: 0, max_tokens: 16,
    messages: [...messages, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"forecast": "sunny"}' }],
  });
  assert.equal(answer.choices[0].message.tool_calls, undefined);
  assert.ok(answer.choices[0].message.content.length > 0);
});
