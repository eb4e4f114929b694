// n choices, logprobs/top_logprobs (chat) and legacy logprobs/echo (completions) through the official openai npm package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, model, tokenize, assertBadRequest } from './helpers.js';

const messages = [{ role: 'user', content: 'Tell me a story.' }];

function assertSortedFinite(values) {
  for (const value of values) assert.ok(Number.isFinite(value) && value <= 0, `logprob ${value}`);
  assert.deepEqual(values, [...values].sort((a, b) => b - a));
}

test('n choices come back indexed, differ when sampled, reproduce with a seed, and count the prompt once', async () => {
  // ignore_eos (extension) makes every choice exactly 20 tokens long.
  const params = { model, messages, n: 3, temperature: 1.2, seed: 11, max_completion_tokens: 20, ignore_eos: true };
  const first = await client.chat.completions.create(params);
  assert.deepEqual(first.choices.map(c => c.index), [0, 1, 2]);
  const texts = first.choices.map(c => c.message.content);
  assert.ok(new Set(texts).size > 1, texts.join(' | '));
  assert.deepEqual((await client.chat.completions.create(params)).choices.map(c => c.message.content), texts);

  const single = await client.chat.completions.create({ model, messages, max_completion_tokens: 1 });
  assert.equal(first.usage.prompt_tokens, single.usage.prompt_tokens);
  assert.equal(first.usage.completion_tokens, 3 * 20);
  assert.equal(first.usage.total_tokens, single.usage.prompt_tokens + 3 * 20);
});

test('streamed n choices each stream their own text and finish, matching the whole answer', async () => {
  const params = { model, messages, n: 2, temperature: 1.2, seed: 5, max_completion_tokens: 16 };
  const whole = await client.chat.completions.create(params);
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  const texts = ['', ''];
  const finishes = [null, null];
  let usage = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      texts[choice.index] += choice.delta.content ?? '';
      if (choice.finish_reason) finishes[choice.index] = choice.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.deepEqual(texts, whole.choices.map(c => c.message.content));
  assert.deepEqual(finishes, whole.choices.map(c => c.finish_reason));
  assert.deepEqual(usage, whole.usage);
});

test('chat logprobs cover each token with sorted, finite top_logprobs, streamed or not', async () => {
  const params = { model, messages, temperature: 0, max_completion_tokens: 12, logprobs: true, top_logprobs: 4 };
  const whole = await client.chat.completions.create(params);
  const content = whole.choices[0].logprobs.content;
  assert.equal(content.length, whole.usage.completion_tokens);
  assert.equal(content.map(t => t.token).join(''), whole.choices[0].message.content);
  for (const token of content) {
    assert.equal(token.top_logprobs.length, 4);
    assertSortedFinite(token.top_logprobs.map(t => t.logprob));
    assert.equal(token.top_logprobs[0].token, token.token, 'greedy picks the most likely token');
    assert.deepEqual(token.bytes, [...Buffer.from(token.token, 'utf8')]);
  }

  const streamed = [];
  for await (const chunk of await client.chat.completions.create({ ...params, stream: true })) {
    for (const choice of chunk.choices) streamed.push(...(choice.logprobs?.content ?? []));
  }
  assert.deepEqual(streamed.map(t => [t.token, t.logprob]), content.map(t => [t.token, t.logprob]));
});

test('legacy logprobs and echo score the prompt and the completion', async () => {
  const prompt = 'Once upon a time there was a girl';
  const promptTokens = (await tokenize(prompt, true)).length;
  const completion = await client.completions.create({ model, prompt, max_tokens: 3, temperature: 0, logprobs: 2, echo: true });
  const choice = completion.choices[0];
  assert.ok(choice.text.startsWith(prompt));
  const { tokens, token_logprobs: scores, top_logprobs: tops, text_offset: offsets } = choice.logprobs;
  assert.equal(tokens.length, promptTokens + 3);
  assert.equal(scores[0], null);
  for (const score of scores.slice(1)) assert.ok(Number.isFinite(score) && score <= 0);
  for (const top of tops.slice(1)) assertSortedFinite(Object.values(top));
  for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i] >= offsets[i - 1]);
  assert.equal(offsets[promptTokens], prompt.length, 'the completion starts right after the echoed prompt');
});

test('bad n and logprobs values are a 400 naming the parameter', async () => {
  await assertBadRequest(client.chat.completions.create({ model, messages, n: 0 }), 'n');
  await assertBadRequest(client.chat.completions.create({ model, messages, n: 129 }), 'n');
  await assertBadRequest(client.chat.completions.create({ model, messages, logprobs: true, top_logprobs: 21 }), 'top_logprobs');
  await assertBadRequest(client.chat.completions.create({ model, messages, top_logprobs: 2 }), 'top_logprobs');
  await assertBadRequest(client.completions.create({ model, prompt: 'Hi', logprobs: 6 }), 'logprobs');
});
