// Choosing the tenant on the start screen (guests, GDAP partners, consultants): what may be
// typed, the authority the sign-in goes to, the code redeemed at that tenant's token endpoint,
// and the tenant actually signed in to shown before anything is written.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, state, SIM_URL, signIn } from './lib/onboard.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
beforeEach(async () => { await reset('default'); });

test('a tenant typed on the start screen is checked, signed in to by domain, and shown by id', async () => {
  const { context, page, seen } = await openPage(browser);
  await page.goto(BASE_URL);
  await page.locator('#sign-in').waitFor();
  await page.waitForFunction(() => !document.querySelector('#sign-in')?.disabled, null, { timeout: 15000 });
  await page.locator('.tenant-choice summary').click();
  // Not a tenant: said, and sign-in waits.
  await page.fill('#tenant-choice', 'contoso');
  assert.match(await page.locator('#tenant-choice-status').textContent(), /is not a tenant: type its domain/);
  assert.ok(await page.locator('#sign-in').isDisabled());
  await page.fill('#tenant-choice', 'Contoso.onmicrosoft.com');
  assert.match(await page.locator('#tenant-choice-status').textContent(), /You sign in to contoso\.onmicrosoft\.com/);
  assert.ok(!(await page.locator('#sign-in').isDisabled()));

  const authorize = page.waitForRequest((r) => r.url().startsWith(SIM_URL) && r.url().includes('/oauth2/v2.0/authorize'));
  const token = page.waitForRequest((r) => r.url().includes('/oauth2/v2.0/token') && r.method() === 'POST');
  await signIn(page, BASE_URL, 'admin', { keepPage: true });
  assert.equal(new URL((await authorize).url()).pathname, '/contoso.onmicrosoft.com/oauth2/v2.0/authorize');
  assert.equal(new URL((await token).url()).pathname, '/contoso.onmicrosoft.com/oauth2/v2.0/token');
  await page.locator('#tenant-facts').waitFor();
  const tenant = await state();
  assert.ok(tenant.id, 'the simulated tenant has an id');
  assert.equal((await page.locator('#tenant-id').textContent()).trim(), tenant.id);
  assert.equal(await page.locator('#tenant-mismatch').count(), 0, 'the tenant asked for is the one signed in to');
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  await context.close();
});
