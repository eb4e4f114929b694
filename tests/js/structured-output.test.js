// Structured output through the official openai npm package. A story model writes valid JSON only because the
// grammar forces the shape, so every answer must parse and validate (ajv, an independent validator).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { client, model, tokenize, assertBadRequest, collect } from './helpers.js';

const ajv = new Ajv({ strict: true, allErrors: true });
addFormats.default(ajv);

const personSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    mood: { enum: ['happy', 'sad', 'sleepy'] },
    pets: { type: 'array', items: { type: 'string', pattern: '^[a-z]{1,6}$' }, maxItems: 2 },
    birthday: { type: 'string', format: 'date' },
    address: { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, zip: { type: 'integer', minimum: 1000, maximum: 9999 } }, required: ['city', 'zip'], additionalProperties: false },
  },
  required: ['name', 'age', 'mood', 'pets', 'birthday', 'address'],
  additionalProperties: false,
};
const validatePerson = ajv.compile(personSchema);
const messages = [{ role: 'user', content: 'Describe a person.' }];
const jsonSchemaFormat = { type: 'json_schema', json_schema: { name: 'person', schema: personSchema, strict: true } };

function assertPerson(text, context) {
  const value = JSON.parse(text);
  assert.ok(validatePerson(value), `${context}: ${text}\n${ajv.errorsText(validatePerson.errors)}`);
  return value;
}

test('json_schema answers parse and validate, streamed or not', async () => {
  for (const seed of [1, 2]) {
    const request = { model, messages, response_format: jsonSchemaFormat, temperature: 1, seed, max_completion_tokens: 300 };
    const whole = await client.chat.completions.create(request);
    assert.equal(whole.choices[0].finish_reason, 'stop');
    assertPerson(whole.choices[0].message.content, `seed ${seed}`);

    const streamed = await collect(await client.chat.completions.create({ ...request, stream: true }));
    assert.equal(streamed.finishReason, 'stop');
    assert.equal(streamed.text, whole.choices[0].message.content);
  }
});

test('the SDK parse helper returns the parsed object, and the stream helper the same text', async () => {
  const request = { model, messages, response_format: jsonSchemaFormat, temperature: 1, seed: 11, max_completion_tokens: 300 };
  const parsed = await client.chat.completions.parse(request);
  const message = parsed.choices[0].message;
  assert.deepEqual(message.parsed, assertPerson(message.content, 'parse'));

  // The stream helper fills `parsed` only for zod-made formats; its accumulated text is what counts here.
  const final = await client.chat.completions.stream(request).finalChatCompletion();
  assert.equal(final.choices[0].message.content, message.content);
});

test('json_object answers are JSON objects, streamed or not', async () => {
  // A free-form object of story text rarely closes within max_tokens: a bias towards '"' and '}' makes it close.
  const closing = Object.fromEntries((await tokenize('x" "}')).filter(t => t.piece.trim() === '"' || t.piece === '}').map(t => [t.id, t.piece === '}' ? 15 : 5]));
  assert.equal(Object.keys(closing).length, 3);
  const keys = [];
  for (const seed of [1, 2, 3, 4]) {
    const request = { model, messages, response_format: { type: 'json_object' }, logit_bias: closing, temperature: 1, seed, max_completion_tokens: 200 };
    const whole = await client.chat.completions.create(request);
    const text = whole.choices[0].message.content;
    assert.equal(whole.choices[0].finish_reason, 'stop', text);
    const value = JSON.parse(text);
    assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), text);
    keys.push(...Object.keys(value));
    assert.equal((await collect(await client.chat.completions.create({ ...request, stream: true }))).text, text);
  }
  assert.ok(keys.length > 0, 'every object was empty');
});

test('response_format text changes nothing', async () => {
  const request = { model, messages, temperature: 1, seed: 3, max_completion_tokens: 30 };
  const plain = await client.chat.completions.create(request);
  const text = await client.chat.completions.create({ ...request, response_format: { type: 'text' } });
  assert.equal(text.choices[0].message.content, plain.choices[0].message.content);
});

test('a raw GBNF grammar constrains chat and text completions, streamed or not', async () => {
  const grammar = 'root ::= ("yes" | "no") "." | "maybe, " [0-9] "%"';
  const allowed = /^(yes\.|no\.|maybe, [0-9]%)$/;
  for (const seed of [1, 2, 3, 4]) {
    const text = await client.completions.create({ model, prompt: 'Was the cat happy?', grammar, temperature: 1.5, seed, max_tokens: 16 });
    assert.match(text.choices[0].text, allowed);
    assert.equal(text.choices[0].finish_reason, 'stop');
    const streamedText = await collect(await client.completions.create({ model, prompt: 'Was the cat happy?', grammar, temperature: 1.5, seed, max_tokens: 16, stream: true }));
    assert.equal(streamedText.text, text.choices[0].text);

    const chat = await client.chat.completions.create({ model, messages, grammar, temperature: 1.5, seed, max_completion_tokens: 16 });
    assert.match(chat.choices[0].message.content, allowed);
    const streamedChat = await collect(await client.chat.completions.create({ model, messages, grammar, temperature: 1.5, seed, max_completion_tokens: 16, stream: true }));
    assert.equal(streamedChat.text, chat.choices[0].message.content);
  }
});

test('formats and grammars that cannot be enforced are a 400 naming the parameter', async () => {
  const bad = [
    ['response_format.json_schema.schema', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { not: { type: 'string' } } } } }],
    ['response_format.json_schema.schema', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'integer', multipleOf: 3 } } } } } }],
    ['response_format.json_schema', { response_format: { type: 'json_schema', json_schema: { name: 'x' } } }],
    ['response_format.type', { response_format: { type: 'yaml' } }],
    ['grammar', { grammar: 'root ::= (' }],
    ['grammar', { grammar: 'root ::= undefined-rule' }],
    ['grammar', { grammar: 'root ::= "a"', response_format: { type: 'json_object' } }],
  ];
  for (const [param, params] of bad) {
    await assertBadRequest(client.chat.completions.create({ model, messages, ...params }), param);
    await assertBadRequest(client.chat.completions.create({ model, messages, ...params, stream: true }), param);
  }
});
