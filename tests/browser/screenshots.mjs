// Takes the README's screenshots of the playground (docs/playground-*.png) from a running server:
//   BASE_URL=http://127.0.0.1:8080/ node tests/browser/screenshots.mjs
// They were taken from a server started with no -m and no network, so it serves the built-in demo model.
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:8080/';
const docs = new URL('../../docs/', import.meta.url);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });

async function chat(page) {
  await page.locator('#model option').first().waitFor({ state: 'attached' });
  for (const [i, text] of ['Once upon a time, a little dog found a red ball.', 'What did the dog do next?'].entries()) {
    await page.fill('#composer-input', text);
    await page.press('#composer-input', 'Enter');
    await page.locator('.message.assistant').nth(i).locator('.stats').waitFor();
  }
}

const shot = (page, name) => page.screenshot({ path: new URL(`playground-${name}.png`, docs).pathname });

const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
const page = await context.newPage();
await page.goto(base);
await page.click('#toggle-settings');
await page.fill('#system-prompt', 'You tell short stories.');
await page.dispatchEvent('#system-prompt', 'change');
await page.fill('#max_tokens', '120');
await page.dispatchEvent('#max_tokens', 'change');
await chat(page);
await shot(page, 'chat-light');
await page.click('#toggle-settings');
await page.click('#toggle-theme');
await shot(page, 'chat-dark');
await page.click('#show-status');
await page.locator('.status-card').first().waitFor();
await shot(page, 'status-dark');
await page.click('#toggle-theme');
await shot(page, 'status-light');

const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', storageState: await context.storageState() });
const small = await phone.newPage();
await small.goto(base);
await small.locator('.message.assistant .stats').first().waitFor();
await small.evaluate(() => localStorage.setItem('inferenceserver.theme', 'dark'));
await small.reload();
await small.locator('.message.assistant .stats').first().waitFor();
await shot(small, 'phone-dark');
await browser.close();
