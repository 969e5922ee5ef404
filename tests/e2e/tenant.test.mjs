// Choosing the tenant on the start screen (guests, GDAP partners, consultants): what may be
// typed, the authority the sign-in goes to, the code redeemed at that tenant's token endpoint,
// and the tenant actually signed in to shown before anything is written.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, state, sim, SIM_URL, signIn, makeAndSave } from './lib/onboard.mjs';
import { leakDetector, recordRequests } from './lib/secrets.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

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

/** Picks `upn` on the simulator's sign-in page in `popup` and accepts. */
async function pickIn(popup, tenant, upn) {
  await popup.waitForLoadState();
  const { users } = await sim(`/_sim/state?tenant=${tenant}`);
  const id = users.find((u) => u.userPrincipalName === upn).id;
  await popup.locator(`input[name=user][value="${id}"]`).check();
  await Promise.all([popup.waitForEvent('close'), popup.click('#accept')]);
}

async function onboard(page, dir, name) {
  await page.locator('#app-name').fill(name);
  const made = await makeAndSave(page, dir, name.replace(/\W+/g, '-'));
  await page.click('#apply-button');
  await page.locator('#finished').waitFor({ timeout: 90000 });
  return made;
}

test('a consultant does two tenants in a row without a reload; the second run carries nothing of the first', async () => {
  await reset('consultant');
  const dir = join(tmpdir(), `unattended-consultant-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const { context, page, seen } = await openPage(browser);
  const sent = recordRequests(page);
  await page.addInitScript(() => { window.__loads = (window.__loads ?? 0) + 1; });
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  const first = await onboard(page, dir, 'EXO Contoso');
  const firstAppId = (await page.locator('#done-app-id').textContent()).trim();
  const firstTokens = sent.filter((r) => r.headers.authorization).map((r) => r.headers.authorization.slice(7));
  const loaded = await page.evaluate(() => performance.timeOrigin);

  // Next tenant: forgotten, and said so; the summary stays.
  await page.click('#next-tenant');
  await page.locator('#forgot').waitFor();
  assert.match(await page.locator('#forgot').textContent(), /tokens and any certificate and key made for it are gone from memory/);
  assert.equal(await page.locator('#session .session-row').count(), 1);
  const before = sent.length;
  await page.locator('.tenant-choice summary').click();
  await page.fill('#tenant-choice', 'fabrikam.onmicrosoft.com');
  const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#sign-in')]);
  assert.equal(new URL(popup.url()).pathname, '/fabrikam.onmicrosoft.com/oauth2/v2.0/authorize');
  assert.equal(new URL(popup.url()).searchParams.get('prompt'), 'select_account');
  await pickIn(popup, 'fabrikam.onmicrosoft.com', 'consultant_partner.example#EXT#@fabrikam.onmicrosoft.com');
  await page.locator('#tenant-facts').waitFor();
  const fabrikam = await sim('/_sim/state?tenant=fabrikam.onmicrosoft.com');
  assert.equal((await page.locator('#tenant-id').textContent()).trim(), fabrikam.id);
  assert.equal(await page.locator('#tenant-mismatch').count(), 0);
  await onboard(page, dir, 'EXO Fabrikam');
  assert.equal(await page.evaluate(() => performance.timeOrigin), loaded, 'no reload');

  // The second tenant's requests carry no token and no key material of the first.
  const second = sent.slice(before);
  assert.ok(second.length > 5);
  const { leaks } = leakDetector(first);
  for (const r of second) {
    assert.deepEqual(leaks(r), [], `${r.method} ${r.url}`);
    const text = `${r.url}\n${JSON.stringify(r.headers)}\n${r.body.toString()}`;
    // Whole tokens: every JWT from one issuer starts with the same header.
    for (const t of firstTokens) assert.ok(!text.includes(t), `a Contoso token in ${r.url}`);
    assert.ok(!text.includes(first.files.cer.toString('base64').slice(0, 64)), `the first certificate in ${r.url}`);
  }
  const after = await sim('/_sim/state?tenant=fabrikam.onmicrosoft.com');
  assert.ok(after.applications.some((a) => a.displayName === 'EXO Fabrikam'));
  assert.ok(!(await state()).applications.some((a) => a.displayName === 'EXO Fabrikam'), 'not in Contoso');

  // The summary lists both, and its CSV too.
  assert.equal(await page.locator('#session .session-row').count(), 2);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#session-csv')]);
  const path = join(dir, 'session.csv');
  await download.saveAs(path);
  const rows = JSON.parse(execFileSync(process.env.PYTHON ?? 'python3', [join(HERE, 'lib', 'check_exports.py'), 'csv', path]).toString());
  assert.deepEqual(rows.map((r) => r.domain), ['contoso.onmicrosoft.com', 'fabrikam.onmicrosoft.com']);
  assert.equal(rows[0].appId, firstAppId);
  assert.equal(rows[0].thumbprint, first.thumbprint);
  assert.deepEqual(seen.pageErrors, []);
  await context.close();
});

test('the customer admin consents from the link the page offers; a cancel is said too', async () => {
  await reset('consultant');
  const { context, page } = await openPage(browser);
  const fabrikam = await sim('/_sim/state?tenant=fabrikam.onmicrosoft.com');
  for (const [action, outcome, text] of [['cancel', 'not-granted', /declined/], ['accept', 'granted', new RegExp(`granted for tenant ${fabrikam.id}`)]]) {
    await page.goto(BASE_URL);
    await page.locator('.tenant-choice summary').click();
    await page.fill('#tenant-choice', 'fabrikam.onmicrosoft.com');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(SIM_URL)), page.click('#admin-consent')]);
    assert.match(new URL(page.url()).pathname, /^\/fabrikam\.onmicrosoft\.com\/v2\.0\/adminconsent$/);
    const id = fabrikam.users.find((u) => u.userPrincipalName === 'admin@fabrikam.onmicrosoft.com').id;
    await page.locator(`input[name=user][value="${id}"]`).check();
    await Promise.all([page.waitForURL((u) => u.href.startsWith(BASE_URL)), page.click(`#${action}`)]);
    const result = page.locator('#admin-consent-result');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-outcome'), outcome);
    assert.match(await result.textContent(), text);
    assert.ok(!(await page.evaluate(() => location.search)), 'the answer is wiped from the address');
  }
  await context.close();
});
