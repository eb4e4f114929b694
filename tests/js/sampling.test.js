// Sampling parameters through the official openai npm package: each assertion is one the parameter being ignored
// would break. The story model's greedy continuation of the prompt is coherent and repetitive, which the
// penalties can be seen to change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, model, tokenize, tokenId, assertBadRequest, collect } from './helpers.js';

const prompt = 'Once upon a time';
const messages = [{ role: 'user', content: 'Tell me a story.' }];

async function complete(params) {
  const completion = await client.completions.create({ model, prompt, max_tokens: 40, ...params });
  const choice = completion.choices[0];
  return { text: choice.text, finishReason: choice.finish_reason, usage: completion.usage };
}

async function completeStreamed(params) {
  return collect(await client.completions.create({ model, prompt, max_tokens: 40, ...params, stream: true, stream_options: { include_usage: true } }));
}

async function chat(params) {
  const completion = await client.chat.completions.create({ model, messages, max_completion_tokens: 40, ...params });
  const choice = completion.choices[0];
  return { text: choice.message.content, finishReason: choice.finish_reason, usage: completion.usage };
}

async function chatStreamed(params) {
  return collect(await client.chat.completions.create({ model, messages, max_completion_tokens: 40, ...params, stream: true, stream_options: { include_usage: true } }));
}

/** Distinct words over all words: penalties against repetition raise it. */
function variety(text) {
  const words = text.split(/\s+/).filter(w => w.length > 0);
  return new Set(words).size / words.length;
}

test('top_k 1, a tiny top_p and min_p 1 are greedy at any temperature and seed', async () => {
  const greedy = (await complete({ temperature: 0, max_tokens: 24 })).text;
  assert.notEqual((await complete({ temperature: 1.5, seed: 1, max_tokens: 24 })).text, greedy, 'a hot sample should leave the greedy path');
  for (const seed of [1, 2]) {
    assert.equal((await complete({ temperature: 1.5, seed, max_tokens: 24, top_k: 1 })).text, greedy, `top_k 1, seed ${seed}`);
    assert.equal((await complete({ temperature: 1.5, seed, max_tokens: 24, top_p: 1e-6 })).text, greedy, `top_p 1e-6, seed ${seed}`);
    assert.equal((await complete({ temperature: 1.5, seed, max_tokens: 24, min_p: 1 })).text, greedy, `min_p 1, seed ${seed}`);
  }
});

test('the same seed gives the same sample, and other seeds other samples', async () => {
  const first = (await complete({ temperature: 1, seed: 42 })).text;
  assert.equal((await complete({ temperature: 1, seed: 42 })).text, first);
  const others = [];
  for (const seed of [43, 44, 45]) others.push((await complete({ temperature: 1, seed })).text);
  assert.ok(others.some(o => o !== first), 'three other seeds all gave the same sample');

  const chatFirst = (await chat({ temperature: 1, seed: 7 })).text;
  assert.equal((await chat({ temperature: 1, seed: 7 })).text, chatFirst);
});

test('penalties against repetition vary the words, a negative frequency penalty repeats them', async () => {
  const plain = variety((await complete({ temperature: 0, max_tokens: 150 })).text);
  for (const penalty of [{ frequency_penalty: 2 }, { presence_penalty: 2 }, { repetition_penalty: 1.5 }])
    assert.ok(variety((await complete({ temperature: 0, max_tokens: 150, ...penalty })).text) > plain, JSON.stringify(penalty));
  assert.ok(variety((await complete({ temperature: 0, max_tokens: 150, frequency_penalty: -2 })).text) < plain);
});

test('a logit bias of 100 forces a token and -100 bans the greedy one', async () => {
  const was = await tokenId('The cat was', ' was');
  const forced = await complete({ temperature: 0, max_tokens: 5, logit_bias: { [was]: 100 } });
  assert.equal(forced.text, ' was was was was was');

  const greedy = (await complete({ temperature: 0, max_tokens: 1 })).text;
  const greedyId = await tokenId(greedy, greedy);
  const banned = await complete({ temperature: 0, max_tokens: 1, logit_bias: { [greedyId]: -100 } });
  assert.notEqual(banned.text, greedy);
});

test('stop sequences cut before the earliest match, also one spanning tokens', async () => {
  const greedy = (await complete({ temperature: 0 })).text;
  const spanning = greedy.slice(10, 19);
  assert.ok((await tokenize(spanning)).length > 2, `'${spanning}' should span several tokens`);
  const later = greedy.slice(25, 30);
  for (const stop of [spanning, [later, spanning], [later]]) {
    const first = Math.min(...[stop].flat().map(s => greedy.indexOf(s)));
    for (const answer of [await complete({ temperature: 0, stop }), await completeStreamed({ temperature: 0, stop })]) {
      assert.equal(answer.text, greedy.slice(0, first), JSON.stringify(stop));
      assert.equal(answer.finishReason, 'stop');
    }
  }
});

test('ignore_eos generates past the end-of-sequence token up to max_tokens', async () => {
  const eos = await tokenId('</s>', '</s>');
  const forceEos = { temperature: 0, max_tokens: 8, logit_bias: { [eos]: 100 } };
  for (const answer of [await complete(forceEos), await completeStreamed(forceEos)]) {
    assert.equal(answer.finishReason, 'stop');
    assert.equal(answer.usage.completion_tokens, 1);
  }
  for (const answer of [await complete({ ...forceEos, ignore_eos: true }), await completeStreamed({ ...forceEos, ignore_eos: true })]) {
    assert.equal(answer.finishReason, 'length');
    assert.equal(answer.usage.completion_tokens, 8);
  }
});

test('max_tokens and max_completion_tokens bound the answer', async () => {
  for (const answer of [await complete({ max_tokens: 7 }), await completeStreamed({ max_tokens: 7 }),
    await chat({ max_completion_tokens: 7 }), await chatStreamed({ max_completion_tokens: 7 }),
    await chat({ max_completion_tokens: undefined, max_tokens: 7 })]) {
    assert.equal(answer.finishReason, 'length');
    assert.equal(answer.usage.completion_tokens, 7);
  }
});

test('every sampling parameter gives the same answer streamed or not, in chat and text completions', async () => {
  const was = await tokenId('The cat was', ' was');
  const cases = [
    { temperature: 0 },
    { temperature: 1, seed: 5 },
    { temperature: 0.8, top_p: 0.9, seed: 6 },
    { temperature: 1.2, top_k: 5, seed: 7 },
    { temperature: 1, min_p: 0.1, seed: 8 },
    { temperature: 0, frequency_penalty: 1.5 },
    { temperature: 0, presence_penalty: 1.5 },
    { temperature: 0, repetition_penalty: 1.3 },
    { temperature: 0, logit_bias: { [was]: 5 } },
    { temperature: 0, stop: ['.'] },
    { temperature: 0, ignore_eos: true },
  ];
  for (const params of cases) {
    const text = { max_tokens: 24, ...params };
    assert.deepEqual(await completeStreamed(text), await complete(text), `completions ${JSON.stringify(params)}`);
    const chatParams = { max_completion_tokens: 24, ...params };
    assert.deepEqual(await chatStreamed(chatParams), await chat(chatParams), `chat ${JSON.stringify(params)}`);
  }
});

test('out-of-range values are a 400 naming the parameter', async () => {
  const bad = [
    ['temperature', { temperature: 2.5 }], ['temperature', { temperature: -0.1 }],
    ['top_p', { top_p: 0 }], ['top_p', { top_p: 1.5 }],
    ['top_k', { top_k: -2 }], ['min_p', { min_p: 1.5 }],
    ['frequency_penalty', { frequency_penalty: 3 }], ['presence_penalty', { presence_penalty: -2.5 }],
    ['repetition_penalty', { repetition_penalty: 0 }],
    ['logit_bias', { logit_bias: { 99999: 5 } }], ['logit_bias', { logit_bias: { 5: 101 } }], ['logit_bias', { logit_bias: { abc: 1 } }],
    ['seed', { seed: 'abc' }], ['seed', { seed: 1.5 }],
    ['stop', { stop: ['a', 'b', 'c', 'd', 'e'] }], ['stop', { stop: '' }],
    ['max_tokens', { max_tokens: 0 }], ['ignore_eos', { ignore_eos: 'yes' }],
  ];
  for (const [param, params] of bad) {
    await assertBadRequest(client.completions.create({ model, prompt, ...params }), param);
    await assertBadRequest(client.chat.completions.create({ model, messages, ...params, stream: true }), param);
  }
  await assertBadRequest(client.chat.completions.create({ model, messages, max_completion_tokens: 0 }), 'max_completion_tokens');
});
