// strict: true in tool_choice "auto" through the official openai npm package, on a chat template that renders no tools
// (the generic JSON syntax: an answer that begins as JSON is a call). The story model never opens a call by itself: a
// logit bias on "{" (an extension of this server in the Responses API) makes it begin its answer with one. From there
// a strict tool's grammar holds; a tool without strict gets whatever the model writes. Run by StrictToolTests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { client, model, tokenId, weatherSchema as schema } from '../helpers.js';

const ajv = new Ajv({ strict: true, allErrors: true });
const validate = ajv.compile(schema);
const question = 'What is the weather in Paris for the next three days?';
const openBrace = async () => ({ [await tokenId('{', '{')]: 100 });

function assertValid(text, context) {
  const value = JSON.parse(text);
  assert.ok(validate(value), `${context}: ${text}\n${ajv.errorsText(validate.errors)}`);
}

function chatRequest(strict, extra) {
  return {
    model, messages: [{ role: 'user', content: question }], parallel_tool_calls: false, max_tokens: 300,
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather forecast for a city', parameters: schema, strict } }],
    ...extra,
  };
}

function responsesRequest(extra) {
  return {
    model, input: question, parallel_tool_calls: false, max_output_tokens: 300,
    tools: [{ type: 'function', name: 'get_weather', description: 'Weather forecast for a city', parameters: schema, strict: true }],
    ...extra,
  };
}

test('chat: a strict tool in auto mode always gets valid arguments; without strict, the same requests get no call', async () => {
  const logit_bias = await openBrace();
  for (const seed of [1, 2, 3, 4]) {
    const strict = await client.chat.completions.create(chatRequest(true, { temperature: 1, seed, logit_bias }));
    assert.equal(strict.choices[0].finish_reason, 'tool_calls');
    assert.equal(strict.choices[0].message.tool_calls.length, 1);
    assertValid(strict.choices[0].message.tool_calls[0].function.arguments, `seed ${seed}`);

    const loose = await client.chat.completions.create(chatRequest(false, { temperature: 1, seed, logit_bias }));
    assert.equal(loose.choices[0].message.tool_calls, undefined);
    assert.ok(loose.choices[0].message.content.startsWith('{'));
  }
});

test('chat: a streamed strict call sends its arguments in several deltas that add up to the whole call', async () => {
  const request = chatRequest(true, { temperature: 0, logit_bias: await openBrace() });
  const whole = await client.chat.completions.create(request);
  const stream = await client.chat.completions.create({ ...request, stream: true });
  let args = '', deltas = 0, name, finish;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    for (const call of choice.delta.tool_calls ?? []) {
      name ??= call.function?.name;
      if (call.function?.arguments) { args += call.function.arguments; deltas++; }
    }
    finish ??= choice.finish_reason;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(name, 'get_weather');
  assert.equal(args, whole.choices[0].message.tool_calls[0].function.arguments);
  assert.ok(deltas > 3, `the arguments came in ${deltas} deltas`);
  assertValid(args, 'streamed');
});

test('responses: a strict function tool in auto mode returns a function_call whose arguments validate', async () => {
  const logit_bias = await openBrace();
  for (const seed of [5, 6]) {
    const response = await client.responses.create(responsesRequest({ temperature: 1, seed, logit_bias }));
    assert.equal(response.status, 'completed');
    const calls = response.output.filter(item => item.type === 'function_call');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'get_weather');
    assertValid(calls[0].arguments, `seed ${seed}`);
  }
});

test('responses: a streamed strict call sends argument deltas that add up to the done event and the final item', async () => {
  const stream = await client.responses.create(responsesRequest({ temperature: 0, logit_bias: await openBrace(), stream: true }));
  let deltas = '', count = 0, done, completed;
  for await (const event of stream) {
    if (event.type === 'response.function_call_arguments.delta') { deltas += event.delta; count++; }
    if (event.type === 'response.function_call_arguments.done') done = event.arguments;
    if (event.type === 'response.completed') completed = event.response;
  }
  assert.ok(count > 3, `the arguments came in ${count} deltas`);
  assert.equal(deltas, done);
  assertValid(done, 'streamed');
  assert.equal(completed.output.find(item => item.type === 'function_call').arguments, done);
});
