// The whole onboarding in Chromium against the simulated tenant: sign-in with PKCE on the
// simulator's page, the plan, the certificate made and saved in the browser, apply, and the
// final screen; then the tenant's state and MSAL for Python prove the result.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, state, signIn, makeAndSave, msalToken } from './lib/onboard.mjs';

const MANAGE_AS_APP = 'dc50a0fb-09a3-484d-be87-e023b12c6440';
const EXCHANGE_ADMIN = '29232cdf-9323-42fd-ade2-1d097af3e4de';
const DIR = join(tmpdir(), `unattended-onboard-${process.pid}`);

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });
beforeEach(async () => { await reset('default'); });

async function onboarded(page) {
  await page.locator('#finished').waitFor({ timeout: 60000 });
  return (await page.locator('#done-app-id').textContent()).trim();
}

test('a new app: sign in, plan, make and save, apply; the tenant and MSAL agree', async () => {
  const { context, page, seen } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor({ timeout: 15000 });
  assert.equal(await page.locator('#initial-domain').textContent(), 'contoso.onmicrosoft.com');
  assert.match(await page.locator('#admin').textContent(), /admin@contoso\.onmicrosoft\.com \(Global Administrator\)/);
  assert.equal(await page.locator('.badge.sandbox').count(), 1);
  assert.ok(!page.url().includes('#'), 'the code is wiped from the address bar');

  await page.locator('#app-name').fill('EXO nightly');
  const diff = await page.locator('#diff').textContent();
  assert.match(diff, /create.*Create the app registration "EXO nightly"/s);
  assert.match(diff, /Assign the Exchange Administrator role/);
  assert.equal(await page.locator('#apply-button').isDisabled(), true, 'no write before the certificate exists');

  const made = await makeAndSave(page, DIR, 'EXO-nightly');
  await page.click('#apply-button');
  const appId = await onboarded(page);

  const tenant = await state();
  const app = tenant.applications.find((a) => a.appId === appId);
  assert.equal(app.displayName, 'EXO nightly');
  assert.equal(app.signInAudience, 'AzureADMyOrg');
  assert.deepEqual(app.keyCredentials.map((k) => k.key), [made.files.cer.toString('base64')]);
  const sp = tenant.servicePrincipals.find((s) => s.appId === appId);
  assert.ok(sp, 'service principal');
  assert.equal(tenant.appRoleAssignments.filter((a) => a.principalId === sp.id && a.appRoleId === MANAGE_AS_APP).length, 1);
  assert.equal(tenant.roleAssignments.filter((r) => r.principalId === sp.id && r.roleDefinitionId === EXCHANGE_ADMIN).length, 1);

  // The final screen's lines carry the real values.
  assert.equal((await page.locator('#done-thumbprint').textContent()).trim(), made.thumbprint);
  const snippet = await page.locator('#snippet-1').textContent();
  assert.ok(snippet.includes(`-AppId '${appId}' -Organization 'contoso.onmicrosoft.com' -CertificateThumbprint '${made.thumbprint}'`), snippet);

  // MSAL for Python, with the downloaded PFX and password, gets Exchange's role.
  const claims = msalToken({ appId, pfxPath: made.files.pfxPath, password: made.password });
  assert.deepEqual(claims.roles, ['Exchange.ManageAsApp']);
  assert.deepEqual(claims.wids, [EXCHANGE_ADMIN]);

  assert.deepEqual(seen.consoleErrors, []);
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  assert.deepEqual(seen.offHost, []);
  await context.close();
});
