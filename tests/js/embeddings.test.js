// /v1/embeddings through the official openai npm package, and llama-server's /tokenize and /detokenize by fetch.
// EMBEDDING_DIMENSIONS is the served model's embedding length (n_embd).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, model, postJson, tokenize, assertBadRequest } from './helpers.js';

const dimensions = Number(process.env.EMBEDDING_DIMENSIONS);
assert.ok(dimensions > 0, 'Set EMBEDDING_DIMENSIONS.');

const dot = (a, b) => a.reduce((sum, x, i) => sum + x * b[i], 0);

function assertUnitVectors(data, count) {
  assert.equal(data.length, count);
  assert.deepEqual(data.map(d => d.index), [...Array(count).keys()]);
  for (const { embedding } of data) {
    assert.equal(embedding.length, dimensions);
    assert.ok(embedding.every(Number.isFinite));
    assert.ok(Math.abs(dot(embedding, embedding) - 1) < 1e-3, `squared L2 norm ${dot(embedding, embedding)}`);
  }
}

const floats = async (input, extra = {}) => (await client.embeddings.create({ model, input, encoding_format: 'float', ...extra })).data;

test('a string and an array of strings give unit vectors, one per input in order', async () => {
  const one = await client.embeddings.create({ model, input: 'The cat sat on the mat.', encoding_format: 'float' });
  assert.equal(one.object, 'list');
  assert.equal(one.model, model);
  assertUnitVectors(one.data, 1);
  assert.ok(one.usage.prompt_tokens > 5);

  const inputs = ['The dog ran in the park.', 'The cat sat on the mat.', 'A bird sang.', 'The dog ran in the park.'];
  const many = await client.embeddings.create({ model, input: inputs, encoding_format: 'float' });
  assertUnitVectors(many.data, 4);
  const [dog, cat, bird, dogAgain] = many.data.map(d => d.embedding);
  assert.ok(Math.abs(dot(dog, dogAgain) - 1) < 1e-4, 'the same text gives the same vector');
  assert.ok(Math.abs(dot(cat, one.data[0].embedding) - 1) < 1e-4, 'batched or alone gives the same vector');
  assert.ok(dot(dog, cat) < 0.9999 && dot(cat, bird) < 0.9999, 'different texts give different vectors');
});

test('base64 decodes to the same floats: the SDK default and an explicit request', async () => {
  const input = ['Once upon a time', 'The sun is hot.'];
  const asFloats = await floats(input);
  // With no encoding_format the SDK asks for base64 and decodes it.
  const decodedBySdk = (await client.embeddings.create({ model, input })).data;
  const asBase64 = (await client.embeddings.create({ model, input, encoding_format: 'base64' })).data;
  for (let i = 0; i < input.length; i++) {
    const expected = asFloats[i].embedding.map(Math.fround);
    assert.deepEqual(decodedBySdk[i].embedding, expected);
    assert.equal(typeof asBase64[i].embedding, 'string');
    const bytes = Buffer.from(asBase64[i].embedding, 'base64');
    assert.equal(bytes.length, dimensions * 4);
    assert.deepEqual([...new Float32Array(bytes.buffer, bytes.byteOffset, dimensions)], expected);
  }
});

test('token ids and arrays of token ids embed like the text they spell', async () => {
  const texts = ['The sun is hot.', 'A bird sang.'];
  const ids = await Promise.all(texts.map(async t => (await tokenize(t, true)).map(token => token.id)));
  const fromText = await floats(texts);
  const fromIds = await floats(ids);
  const fromOne = await floats(ids[0]);
  assertUnitVectors(fromIds, 2);
  assert.ok(Math.abs(dot(fromIds[0].embedding, fromText[0].embedding) - 1) < 1e-4);
  assert.ok(Math.abs(dot(fromIds[1].embedding, fromText[1].embedding) - 1) < 1e-4);
  assert.ok(Math.abs(dot(fromOne[0].embedding, fromText[0].embedding) - 1) < 1e-4);
});

test('dimensions equal to the model\'s are accepted, others and bad inputs are a 400 naming the parameter', async () => {
  assertUnitVectors(await floats('Hello.', { dimensions }), 1);
  await assertBadRequest(client.embeddings.create({ model, input: 'Hello.', dimensions: dimensions / 2 }), 'dimensions');
  await assertBadRequest(client.embeddings.create({ model, input: 'Hello.', encoding_format: 'int8' }), 'encoding_format');
  await assertBadRequest(client.embeddings.create({ model, input: [1, 99999] }), 'input[1]');
  await assertBadRequest(client.embeddings.create({ model, input: ['fine', ''] }), 'input[1]');
  await assertBadRequest(client.embeddings.create({ model, input: [] }), 'input');
  await assertBadRequest(client.embeddings.create({ model, input: ['fine', { text: 'no' }] }), 'input[1]');
});

test('tokenize and detokenize round-trip, add_special adds BOS, bad ids are a 400', async () => {
  const text = 'Once upon a time, there was a cat.';
  const tokens = await tokenize(text);
  assert.ok(tokens.length >= 5);
  assert.equal(tokens.map(t => t.piece).join('').trim(), text);

  const { status, json } = await postJson('/detokenize', { tokens: tokens.map(t => t.id) });
  assert.equal(status, 200);
  assert.equal(json.content.trim(), text);

  const withBos = await tokenize(text, true);
  assert.deepEqual(withBos.slice(1), tokens);
  assert.equal(withBos.length, tokens.length + 1);

  const plain = await postJson('/tokenize', { content: text });
  assert.deepEqual(plain.json.tokens, tokens.map(t => t.id));

  const bad = await postJson('/detokenize', { tokens: [1, -5] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, 'tokens[1]');
  const missing = await postJson('/tokenize', { text });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error.param, 'content');
});
