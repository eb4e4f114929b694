// The web playground in Debian's Chromium against real servers with a real model. tests/InferenceServer.Tests
// (PlaygroundTests) starts them and runs this file with BASE_URL (an open server), KEYED_URL and API_KEY (a server
// started with --api-key, serving KEYED_MODEL_ID), DEMO_URL (a server serving the built-in demo model) and MODEL_ID.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const { BASE_URL, KEYED_URL, API_KEY, KEYED_MODEL_ID, DEMO_URL, MODEL_ID } = process.env;
if (!BASE_URL || !KEYED_URL || !API_KEY || !KEYED_MODEL_ID || !DEMO_URL || !MODEL_ID) {
  throw new Error('Set BASE_URL, KEYED_URL, API_KEY, KEYED_MODEL_ID, DEMO_URL and MODEL_ID.');
}
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

let browser;
before(async () => { browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }); });
after(async () => { await browser?.close(); });

/** A fresh profile (empty storage) with one page; errors collects console errors and uncaught exceptions. */
async function open(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', message => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', error => errors.push(String(error)));
  await page.goto(url);
  return { context, page, errors };
}

const lastAnswer = page => page.locator('.message.assistant').last();

async function pickModel(page, model = MODEL_ID) {
  await page.locator(`#model option[value="${model}"]`).waitFor({ state: 'attached' });
  await page.selectOption('#model', model);
}

async function send(page, text) {
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
}

test('a message streams in, stops mid-stream on Escape, shows its statistics, and survives a reload', async () => {
  const { context, page, errors } = await open(BASE_URL);
  await pickModel(page);

  // A slow network makes the stream long enough to watch and to stop halfway (the tiny model is fast).
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 1500, uploadThroughput: -1 });
  await send(page, 'Once upon a time');
  const content = lastAnswer(page).locator('.content');
  await page.waitForFunction(() => document.querySelector('.message.assistant:last-child .content')?.textContent.trim().length > 0);
  const early = await content.textContent();
  await page.waitForFunction(n => document.querySelector('.message.assistant:last-child .content').textContent.length > n, early.length);
  assert.equal(await page.isVisible('#stop'), true, 'the answer finished before it could be stopped');
  await page.keyboard.press('Escape');
  await page.locator('#send').waitFor({ state: 'visible' });
  const stopped = await content.textContent();
  assert.ok(stopped.length > early.length, 'the answer grew while it streamed');
  await page.waitForTimeout(1000);
  assert.equal(await content.textContent(), stopped, 'the answer changed after Stop');
  assert.match(await lastAnswer(page).locator('.stats').textContent(), /TTFT \d+ ms.*stopped/);

  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await send(page, 'Tell me about a cat.');
  await page.locator('.message.assistant').nth(1).locator('.stats').waitFor();
  const stats = await lastAnswer(page).locator('.stats').textContent();
  assert.match(stats, /TTFT \d+ ms · [\d.]+ tok\/s · prompt \d+ \(cached \d+\) · completion \d+ · (stop|length)/);
  const answers = await page.locator('.message.assistant .content').allTextContents();

  await page.reload();
  await page.locator('.message.assistant').nth(1).waitFor();
  assert.deepEqual(await page.locator('.message.user .content').allTextContents(), ['Once upon a time', 'Tell me about a cat.']);
  assert.deepEqual(await page.locator('.message.assistant .content').allTextContents(), answers);
  assert.equal(await page.locator('#conversations .conversation').count(), 1);

  await page.click('.message.assistant:last-child .action[aria-label="Regenerate this answer"]');
  await page.locator('#send').waitFor({ state: 'visible' });
  await lastAnswer(page).locator('.stats').waitFor();
  assert.equal(await page.locator('.message').count(), 4, 'regenerate replaces the last answer');

  await page.click('.message.user >> nth=0 >> .action[aria-label="Edit this message and branch from it"]');
  await page.fill('textarea[aria-label="Edited message"]', 'Once upon a time there was a cat');
  await page.press('textarea[aria-label="Edited message"]', 'Enter');
  await page.locator('#send').waitFor({ state: 'visible' });
  await lastAnswer(page).locator('.stats').waitFor();
  assert.deepEqual(await page.locator('.message.user .content').allTextContents(), ['Once upon a time there was a cat']);
  assert.deepEqual(await page.locator('#conversations .conversation').allTextContents(), ['Once upon a time (branch)', 'Once upon a time']);

  await page.click('#show-status');
  const card = page.locator(`.status-card[aria-label="Model ${MODEL_ID}"]`);
  await card.waitFor();
  assert.match(await card.textContent(), /Running sequences\d+Waiting requests\d+KV cache\d+ of \d+ cells hold tokens.*Prefix-cache hit rate\d+\.\d%/);

  assert.deepEqual(errors, []);
  await context.close();
});

test('a server that needs a key asks for it, refuses a wrong one, and works with the right one; settings and a JSON schema shape the answer', async () => {
  const { context, page } = await open(KEYED_URL);
  const dialog = page.locator('#key-dialog');
  await dialog.waitFor({ state: 'visible' });
  await page.fill('#key-input', 'sk-wrong');
  await page.click('#key-dialog button[value="save"]');
  await page.locator('#key-reason', { hasText: 'refused' }).waitFor();
  await page.fill('#key-input', API_KEY);
  await page.click('#key-dialog button[value="save"]');
  await pickModel(page, KEYED_MODEL_ID);
  await page.click('#toggle-settings');
  await page.fill('#max_tokens', '5');
  await send(page, 'Once upon a time');
  await lastAnswer(page).locator('.stats').waitFor();
  assert.ok((await lastAnswer(page).locator('.content').textContent()).trim().length > 0);
  assert.match(await lastAnswer(page).locator('.stats').textContent(), /completion [1-5] · (length|stop)$/, 'the max tokens setting is sent');

  await page.fill('#max_tokens', '80');
  await page.fill('#json-schema', JSON.stringify({ type: 'object', properties: { name: { type: 'string', maxLength: 8 } }, required: ['name'], additionalProperties: false }));
  await send(page, 'Give me a name.');
  await page.locator('.message.assistant').nth(1).locator('.stats').waitFor();
  const json = JSON.parse(await lastAnswer(page).locator('.content').innerText());
  assert.deepEqual(Object.keys(json), ['name']);
  assert.equal(typeof json.name, 'string');
  assert.equal(await page.evaluate(() => localStorage.getItem('inferenceserver.apiKey')), API_KEY);
  await context.close();
});

test('a server serving the built-in demo model says so in a banner, and a real model shows none', async () => {
  const demo = await open(DEMO_URL);
  await demo.page.locator('#demo-banner', { hasText: 'built-in demo model' }).waitFor();
  assert.match(await demo.page.locator('#demo-banner').textContent(), /only\s+writes short children's stories[\s\S]*-m FILE\.gguf/);
  await demo.context.close();

  const real = await open(BASE_URL);
  await pickModel(real.page);
  await real.page.waitForLoadState('networkidle');
  assert.equal(await real.page.isVisible('#demo-banner'), false);
  await real.context.close();
});

test('conversations are searched, exported and imported', async () => {
  const { context, page } = await open(BASE_URL);
  const file = { conversations: [
    { title: 'about dogs', messages: [{ role: 'user', content: 'a dog' }, { role: 'assistant', content: 'Woof.' }] },
    { title: 'about cats', messages: [{ role: 'user', content: 'a cat' }, { role: 'assistant', content: '<think>Cats purr.</think>Meow.',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] }] },
  ] };
  await page.setInputFiles('#import', { name: 'two.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)) });
  await page.locator('#conversations .conversation').nth(1).waitFor();

  await page.fill('#search', 'purr');
  assert.deepEqual(await page.locator('#conversations .conversation').allTextContents(), ['about cats']);
  await page.click('#conversations .conversation');
  assert.equal((await lastAnswer(page).locator('.content').textContent()).trim(), 'Meow.');
  assert.equal(await lastAnswer(page).locator('details.reasoning summary').textContent(), 'Reasoning');
  assert.match(await lastAnswer(page).locator('.tool-call').textContent(), /get_weather[\s\S]*"city": "Oslo"/);
  await page.fill('#search', '');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const exported = JSON.parse(await (await download.createReadStream()).toArray().then(parts => Buffer.concat(parts).toString()));
  assert.deepEqual(exported.conversations.map(c => c.title).sort(), ['about cats', 'about dogs']);
  await context.close();
});

test('model output is rendered as Markdown with highlighted code, and nothing in it runs', async () => {
  const { context, page } = await open(BASE_URL);
  const hostile = [
    '**bold** and a [link](https://example.com)',
    '<img src=x onerror="window.__xss = \'img\'">',
    '<script>window.__xss = "script"</script>',
    '[click me](javascript:window.__xss=\'link\')',
    '<a href="javascript:window.__xss=\'anchor\'">anchor</a>',
    '<svg><animate onbegin="window.__xss=\'svg\'" attributeName="x" dur="1s"/></svg>',
    '<iframe srcdoc="<script>parent.__xss=\'iframe\'</script>"></iframe>',
    '<form action="javascript:window.__xss=\'form\'"><button id="evil">go</button></form>',
    '```js\nconst answer = 42;\n```',
    '$$\\frac{a}{b}$$',
  ].join('\n\n');
  const file = { conversations: [{ title: 'hostile', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: hostile }] }] };
  await page.setInputFiles('#import', { name: 'hostile.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)) });
  const answer = lastAnswer(page);
  await answer.locator('strong', { hasText: 'bold' }).waitFor();

  assert.equal(await answer.locator('.hljs-keyword', { hasText: 'const' }).count(), 1, 'the code block is highlighted');
  assert.equal(await answer.locator('math mfrac').count(), 1, 'the formula is MathML');
  assert.doesNotMatch(await answer.innerText(), /\\frac/, 'the TeX source is not shown');
  assert.equal(await answer.locator('script, iframe, form, #evil').count(), 0);
  assert.equal(await answer.locator('[onerror], [onbegin], [onload]').count(), 0);
  for (const href of await answer.locator('a').evaluateAll(links => links.map(a => a.getAttribute('href') ?? ''))) {
    assert.doesNotMatch(href, /^\s*javascript:/i);
  }
  for (const link of await answer.locator('a', { hasText: /click me|anchor/ }).all()) await link.click();
  await page.waitForTimeout(1500);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await context.close();
});
