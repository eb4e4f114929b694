// Shared by the *.test.js files, which tests/InferenceServer.Tests (JsSdkTests) runs with `node --test` against a
// started server: BASE_URL (…/v1) and MODEL_ID come from the environment.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

// Without them the SDK would call api.openai.com.
if (!process.env.BASE_URL || !process.env.MODEL_ID) throw new Error('Set BASE_URL (the server\'s …/v1) and MODEL_ID.');

export const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: 'no-key-needed', maxRetries: 0, timeout: 120_000 });
export const model = process.env.MODEL_ID;

/** The arguments of the get_weather tool the tool-calling tests offer. */
export const weatherSchema = {
  type: 'object',
  properties: {
    location: { type: 'string', maxLength: 24 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer', minimum: 1, maximum: 7 },
  },
  required: ['location', 'unit', 'days'],
  additionalProperties: false,
};

/** POSTs JSON to a route outside /v1 (llama-server's /tokenize and /detokenize) and returns status and body. */
export async function postJson(route, body) {
  const response = await fetch(new URL(route, process.env.BASE_URL), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** The model's tokens for text, as { id, piece }, without BOS unless addSpecial. */
export async function tokenize(content, addSpecial = false) {
  const { status, json } = await postJson('/tokenize', { content, add_special: addSpecial, with_pieces: true });
  assert.equal(status, 200, JSON.stringify(json));
  return json.tokens;
}

/** The id of the one token of text whose piece is exactly piece. */
export async function tokenId(text, piece) {
  const match = (await tokenize(text)).filter(t => t.piece === piece);
  assert.equal(match.length, 1, `expected one token '${piece}' in '${text}'`);
  return match[0].id;
}

/** Awaits a request that must fail with OpenAI's 400 naming the parameter (param starts with paramPrefix). */
export async function assertBadRequest(request, paramPrefix) {
  await assert.rejects(request, error => {
    assert.ok(error instanceof OpenAI.BadRequestError, `expected a BadRequestError, got ${error}`);
    assert.equal(error.status, 400);
    assert.ok(error.param?.startsWith(paramPrefix), `param '${error.param}' does not name ${paramPrefix}: ${error.message}`);
    assert.equal(typeof error.code, 'string');
    return true;
  });
}

/** Reads a streamed chat completion or text completion into the whole answer: text, finish_reason, usage. */
export async function collect(stream) {
  let text = '';
  let finishReason = null;
  let usage = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.text ?? choice.delta?.content ?? '';
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, finishReason, usage };
}
