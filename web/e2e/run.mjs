// The built client in a real browser (Debian's chromium, headless, driven by
// playwright-core over the DevTools protocol; no browser is ever downloaded).
//
//   WEB_URL=http://127.0.0.1:PORT/ FOUNDRY_TOKEN=... SCREENSHOT=/path/list.png node e2e/run.mjs
//
// WEB_URL serves web/dist with /graphql routed to an api (as CloudFront does);
// the api must hold EXPECT_DOCUMENTS documents of the token's organization
// before the run (default 12), so the list has a second page. Prints one
// `ok: <step>` line per step; exits non-zero with the reason on the first
// failure.
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const { WEB_URL, FOUNDRY_TOKEN } = process.env;
const SCREENSHOT = process.env.SCREENSHOT ?? join(process.cwd(), 'e2e', 'artifacts', 'documents.png');
const EXPECT_DOCUMENTS = Number(process.env.EXPECT_DOCUMENTS ?? '12');
const STEP_TIMEOUT_MS = 15_000;

/** Fails the run (the browser is still closed on the way out). */
function check(condition, message) {
  if (!condition) throw new Error(message);
}

function fail(message) {
  console.error(`e2e: ${message}`);
  process.exit(1);
}

if (!WEB_URL || !FOUNDRY_TOKEN) fail('set WEB_URL and FOUNDRY_TOKEN');
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing; install it with \`apt-get install -y chromium\``);

const profile = mkdtempSync(join(tmpdir(), 'foundry-e2e-profile-'));
let context;
const problems = [];
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // The network is closed: Chromium's own background connections would only fail and slow it down.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1000, height: 1400 },
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  const step = (name) => console.log(`ok: ${name}`);
  const documentTitles = () => page.getByRole('list', { name: 'Documents' }).getByRole('listitem').locator('.title').allTextContents();

  await page.goto(WEB_URL);
  const tokenField = page.getByLabel('Session token');
  await tokenField.waitFor();
  check(await tokenField.evaluate((el) => el === el.ownerDocument.activeElement), 'the token field is not focused on load');
  await tokenField.fill(FOUNDRY_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Foundry documents' }).waitFor();
  const list = page.getByRole('list', { name: 'Documents' });
  await list.waitFor();
  step('signed in');

  const firstPage = await documentTitles();
  check(firstPage.length === 10, `the first page holds ${firstPage.length} documents, not 10`);
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.getByText(`All ${EXPECT_DOCUMENTS} documents shown.`).waitFor();
  step(`paginated: ${firstPage.length} then ${EXPECT_DOCUMENTS} documents`);

  const title = `Made in the browser ${Date.now()}`;
  await page.getByLabel('Title', { exact: true }).fill(title);
  await page.getByLabel('Title', { exact: true }).press('Enter');
  await page.getByRole('status').filter({ hasText: `Created “${title}”.` }).waitFor();
  const afterCreate = await documentTitles();
  check(afterCreate[0] === title, `the new document is not first in the list: ${JSON.stringify(afterCreate.slice(0, 3))}`);
  step(`created: ${title}`);

  // A fresh load asks the api again: the document is stored, newest first.
  await page.reload();
  await page.getByRole('list', { name: 'Documents' }).waitFor();
  const reloaded = await documentTitles();
  check(reloaded[0] === title, `after a reload the first document is ${JSON.stringify(reloaded[0])}, not the new one`);
  step('listed after reload');

  await page.getByRole('button', { name: `Rename “${title}”` }).click();
  await page.getByLabel(`New title for “${title}”`).fill(`${title} (renamed)`);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: `Rename “${title} (renamed)”` }).waitFor();
  step('renamed');

  const file = { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('notes from the browser test\n') };
  await page.getByLabel('File', { exact: true }).setInputFiles(file);
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.getByText(`Uploaded “notes.txt” (${file.buffer.length} bytes).`).waitFor();
  step(`uploaded: notes.txt ${file.buffer.length} bytes`);

  const question = 'What does Foundry deploy?';
  await page.getByLabel('Question', { exact: true }).fill(question);
  await page.getByRole('button', { name: 'Ask' }).click();
  const answer = page.locator('.answer');
  await answer.waitFor();
  step(`answered: ${await answer.textContent()}`);

  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.getByRole('list', { name: 'Documents' }).scrollIntoViewIfNeeded();
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`screenshot: ${SCREENSHOT}`);

  check(problems.length === 0, `the page reported errors:\n${problems.join('\n')}`);
  console.log('e2e: all steps passed');
} catch (error) {
  console.error(`e2e: ${error instanceof Error ? error.message : error}${problems.length ? `\n${problems.join('\n')}` : ''}`);
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
