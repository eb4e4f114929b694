// Predicted Outputs through the official openai npm package, which sends `prediction` as OpenAI documents it: a
// prediction changes how many decodes an answer takes, never the answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, model, assertBadRequest, collect } from './helpers.js';

const messages = [{ role: 'user', content: 'Tell me a story about a boy and his kite.' }];

async function chat(params) {
  const completion = await client.chat.completions.create({ model, messages, max_completion_tokens: 48, temperature: 0, ...params });
  return { text: completion.choices[0].message.content, usage: completion.usage };
}

async function chatStreamed(params) {
  return collect(await client.chat.completions.create({
    model, messages, max_completion_tokens: 48, temperature: 0, ...params, stream: true, stream_options: { include_usage: true },
  }));
}

test('a prediction, whole or as text parts, streamed or not, keeps the greedy text and reports its tokens in usage', async () => {
  const plain = await chat({});
  assert.equal(plain.usage.completion_tokens_details?.accepted_prediction_tokens, undefined, 'no prediction, no prediction counts');
  const edited = plain.text.split(' ').map((word, i) => (i % 4 === 3 ? 'kite' : word)).join(' ');
  for (const content of [plain.text, edited, [{ type: 'text', text: edited.slice(0, 40) }, { type: 'text', text: edited.slice(40) }]]) {
    const prediction = { type: 'content', content };
    const whole = await chat({ prediction });
    const streamed = await chatStreamed({ prediction });
    assert.equal(whole.text, plain.text);
    assert.equal(streamed.text, plain.text);
    for (const usage of [whole.usage, streamed.usage]) {
      const details = usage.completion_tokens_details;
      assert.equal(usage.completion_tokens, plain.usage.completion_tokens);
      assert.ok(details.accepted_prediction_tokens > 0, JSON.stringify(usage));
      assert.ok(details.accepted_prediction_tokens < usage.completion_tokens, JSON.stringify(usage));
      assert.ok(details.rejected_prediction_tokens >= 0, JSON.stringify(usage));
    }
  }
});

test('legacy completions take a prediction', async () => {
  const prompt = 'Once upon a time, there was a little dog.';
  const plain = await client.completions.create({ model, prompt, max_tokens: 32, temperature: 0 });
  const predicted = await client.completions.create({
    model, prompt, max_tokens: 32, temperature: 0, prediction: { type: 'content', content: plain.choices[0].text },
  });
  assert.equal(predicted.choices[0].text, plain.choices[0].text);
  assert.ok(predicted.usage.completion_tokens_details.accepted_prediction_tokens > 0, JSON.stringify(predicted.usage));
});

test('a prediction of the wrong shape is a 400 naming the parameter', async () => {
  await assertBadRequest(chat({ prediction: 'the answer' }), 'prediction');
  await assertBadRequest(chat({ prediction: { type: 'text', content: 'x' } }), 'prediction.type');
  await assertBadRequest(chat({ prediction: { type: 'content', content: 7 } }), 'prediction.content');
  await assertBadRequest(chat({ prediction: { type: 'content', content: [{ type: 'image_url', image_url: { url: 'x' } }] } }), 'prediction.content[0]');
});
