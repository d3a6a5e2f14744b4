/**
 * The console end to end in a real chromium against a real gateway on the stub upstream: `npm run test:ui`.
 * Skips, saying why, where chromium is not installed. With CONSOLE_SCREENSHOTS=DIR it also saves a screenshot
 * of each page there (console/screenshots/ holds the ones in console/README.md).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { auth, chat, eventually } from '../support/harness.js';
import { ADMIN_KEY, consolePolicy, startConsoleGateway, type ConsoleGateway } from '../console/fixture.js';
import { openBrowser, skipReason } from './browser.js';

const SHOTS = process.env.CONSOLE_SCREENSHOTS;
const XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> what is this?';

describe('the console in a browser', { skip: skipReason }, () => {
  let c: ConsoleGateway;
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  let page: Page;
  const dialogs: string[] = [];
  const send = (content: string) =>
    request(c.gw.server).post('/v1/chat/completions').set(auth).send(chat(content)).expect(200);
  const shot = async (name: string) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const noSideScroll = async () =>
    assert.ok(
      await page.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1'),
      'the page scrolls sideways at laptop width',
    );

  before(async () => {
    c = await startConsoleGateway();
    await send('hello there');
    browser = await openBrowser();
    page = await browser.context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });
  after(async () => {
    await browser?.close();
    await c?.close();
  });

  it('logs in with the admin key, using the keyboard only', async () => {
    await page.goto(`${c.gw.url}/console`);
    await page.getByLabel('Admin key').focus();
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Pages' }).waitFor();
    // Page scripts run in the browser: written as expressions, since this file is compiled without the DOM types.
    const stored = String(
      await page.evaluate('JSON.stringify({ ...localStorage, ...sessionStorage }) + document.cookie'),
    );
    assert.doesNotMatch(stored, new RegExp(ADMIN_KEY));
    assert.equal(await page.evaluate('document.cookie'), '', 'the session cookie is readable by scripts');
  });

  it('shows live charts on the overview', async () => {
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await send('tell me about the apple');
    await page.getByText(/2 decisions in the last hour/).waitFor({ timeout: 10_000 });
    assert.ok((await page.locator('.uplot').count()) >= 2);
    await page.getByText('console-test').first().waitFor();
    await noSideScroll();
    await shot('overview');
  });

  it('shows decisions as they arrive, filters to a refusal and opens it', async () => {
    await page.getByRole('link', { name: 'Decisions' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Decisions' }).waitFor();
    await page.getByText('2 decisions').waitFor();
    await send('a pear please');
    await page.getByText('3 decisions').waitFor({ timeout: 10_000 });
    await page.getByLabel('action').selectOption('refuse');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('1 decisions').waitFor();
    await page.getByRole('button', { name: /^Open decision/ }).click();
    const detail = page.getByRole('article', { name: 'Decision detail' });
    await detail.getByText('no-bad-words').first().waitFor();
    assert.match(await detail.locator('pre.content').first().innerText(), /tell me about the apple/);
    assert.match(await detail.innerText(), /words.*bad 1\.000/s);
    await detail.getByRole('button', { name: 'Explain (policy in force)' }).click();
    const trace = detail.getByRole('region', { name: 'Explain trace' });
    await trace.getByText(/matched\s+no-bad-words/).waitFor();
    await trace.getByText(/no-match\s+watch-words/).waitFor();
    await noSideScroll();
    await shot('decisions');
  });

  it('downloads the filtered export, whose bytes match its manifest', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'JSONL' }).click(),
    ]);
    const path = await download.path();
    const bytes = readFileSync(path);
    assert.equal(bytes.toString('utf8').trim().split('\n').length, 1);
    await page.getByRole('button', { name: 'Manifest' }).click();
    const manifest = await page.getByLabel('Export manifest').innerText();
    assert.match(manifest, /1 records/);
    assert.ok(manifest.includes(createHash('sha256').update(bytes).digest('hex')), manifest);
    await page.getByRole('button', { name: 'Verify the log' }).click();
    await page
      .getByRole('status', { name: 'Verification' })
      .getByText(/Verified: \d+ records intact/)
      .waitFor();
  });

  it('renders a prompt with <script> and <img onerror> as text', async () => {
    await send(XSS);
    await page.getByLabel('search').fill('pwned');
    await page.getByLabel('action').selectOption('');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('1 decisions').waitFor();
    await page.getByRole('button', { name: /^Open decision/ }).click();
    const content = page.getByRole('article', { name: 'Decision detail' }).locator('pre.content').first();
    await content.getByText('what is this?', { exact: false }).waitFor();
    assert.equal(await content.innerText(), XSS);
    assert.equal(await content.locator('script, img').count(), 0);
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    assert.deepEqual(dialogs, []);
  });

  it('pins a policy error to its path, then tests, diffs and publishes the fix as shadow', async () => {
    await page.getByRole('link', { name: 'Policy playground' }).click();
    const editor = page.getByLabel(/Policy JSON/);
    await page.getByText('✔ valid policy').waitFor();
    const bad = consolePolicy();
    (bad.rules[0] as { when: { threshold: number } }).when.threshold = 7;
    await editor.fill(JSON.stringify(bad, null, 2));
    const issues = page.locator('#policy-issues');
    await issues.getByText('rules[0].when.threshold').waitFor();
    const line =
      JSON.stringify(bad, null, 2)
        .split('\n')
        .findIndex((l) => l.includes('"threshold": 7')) + 1;
    await issues.getByRole('button', { name: `line ${line}` }).waitFor();
    await shot('playground-error');
    // The fix: a shadow candidate that no longer refuses apples (so it disagrees with the enforced policy).
    const fixed = { ...consolePolicy({ refuse: 'plum', flag: 'pear' }), id: 'console-shadow-ui' };
    await editor.fill(JSON.stringify(fixed, null, 2));
    await page.getByText('✔ valid policy').waitFor();
    await page.getByRole('button', { name: 'Run tests' }).click();
    await page.getByRole('region', { name: 'Test results' }).getByText('Tests: FAIL').waitFor();
    await page.getByRole('button', { name: 'Diff vs enforced' }).click();
    await page
      .getByRole('region', { name: 'Diff' })
      .getByText(/refuse → allow: 1/)
      .waitFor();
    await page.getByLabel('Recorded request').selectOption({ index: 1 });
    await page.getByRole('button', { name: 'Explain' }).click();
    await page
      .getByRole('region', { name: 'Explain trace' })
      .getByText(/Final:/)
      .waitFor();
    await page.getByRole('button', { name: 'Publish as shadow' }).click();
    await page.getByText(/the policy tests fail; nothing was published/).waitFor();
    await page.getByLabel('publish even if tests fail').check();
    await page.getByRole('button', { name: 'Publish as shadow' }).click();
    await page.getByRole('status', { name: 'Published' }).waitFor();
    assert.equal(c.gw.policies.store.shadow()?.policy.id, 'console-shadow-ui');
    await noSideScroll();
    await shot('playground');
  });

  it('shows the shadow disagreements that follow, and takes a label', async () => {
    await send('one more apple');
    await eventually(() => c.gw.records().some((r) => r.shadow?.policy.id === 'console-shadow-ui'), 5000);
    await page.getByRole('link', { name: 'Review' }).click();
    await page.getByRole('tab', { name: 'Shadow disagreements' }).click();
    const card = page.getByRole('article', { name: /^Review / }).first();
    await card.getByText(/shadow console-shadow-ui would allow/).waitFor();
    await card.getByLabel('wrong').check();
    await card.getByLabel('Right label').selectOption('safe');
    await card.getByRole('button', { name: 'Save label' }).click();
    await card.getByText('saved: wrong, safe').waitFor();
    await noSideScroll();
    await shot('review');
    const labels = readFileSync(join(c.gw.auditDir, 'console-labels.jsonl'), 'utf8');
    assert.match(labels, /"verdict":"wrong","label":"safe"/);
  });
});
