// Types a query into the playground, presses Run, and prints what the page shows:
// {"result": <the JSON in the result pane>, "operations": [<recorded names>]}.
// Usage: CHROMIUM=/usr/bin/chromium node playground.mjs http://127.0.0.1:PORT/playground
import { chromium } from 'playwright-core';

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(new URL(url).origin)) external.push(r.url()); });
  await page.goto(url);
  await page.fill('#query', 'query playgroundQuery {\n  categories(order_by: { id: asc }, limit: 2) { slug }\n}');
  await page.fill('#variables', '{}');
  await page.click('#run');
  await page.waitForFunction(() => document.getElementById('result').textContent.includes('"data"'));
  await page.waitForFunction(() => [...document.querySelectorAll('#operations li')].some((li) => li.textContent === 'playgroundQuery'));
  const result = JSON.parse(await page.textContent('#result'));
  const operations = await page.$$eval('#operations li', (lis) => lis.map((li) => li.textContent));
  if (external.length) throw new Error('the page made external requests: ' + external.join(', '));
  console.log(JSON.stringify({ result, operations }));
} finally {
  await browser.close();
}
