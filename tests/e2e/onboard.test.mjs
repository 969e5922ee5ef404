// The whole onboarding in Chromium against the simulated tenant: sign-in with PKCE on the
// simulator's page, the plan, the certificate made and saved in the browser, apply, and the
// final screen; then the tenant's state and MSAL for Python prove the result.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, state, faults, signIn, makeAndSave, msalToken } from './lib/onboard.mjs';

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

function count(tenant, appId) {
  const sp = tenant.servicePrincipals.filter((s) => s.appId === appId);
  const ids = sp.map((s) => s.id);
  return {
    apps: tenant.applications.filter((a) => a.appId === appId).length,
    sps: sp.length,
    grants: tenant.appRoleAssignments.filter((a) => ids.includes(a.principalId)).length,
    roles: tenant.roleAssignments.filter((r) => ids.includes(r.principalId)).length,
  };
}

async function chooseExisting(page, name) {
  const option = page.locator('#existing-app option', { hasText: name });
  await page.selectOption('#existing-app', await option.getAttribute('value'));
  await page.locator('#diff li.keep').first().waitFor();
}

test('an existing app with two certificates and other permissions keeps all of them; a second run duplicates nothing', async () => {
  await reset('existing-app');
  const before = (await state()).applications.find((a) => a.displayName === 'Legacy EXO automation');
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await chooseExisting(page, 'Legacy EXO automation');
  const diff = await page.locator('#diff').textContent();
  assert.match(diff, /kept.*CN=legacy-2025/s);
  assert.match(diff, /kept.*CN=legacy-2026/s);
  assert.match(diff, /keeping its 2 existing/);
  const first = await makeAndSave(page, DIR, 'legacy-2027');
  await page.click('#apply-button');
  const appId = await onboarded(page);
  assert.equal(appId, before.appId);
  let app = (await state()).applications.find((a) => a.appId === appId);
  assert.equal(app.keyCredentials.length, 3);
  for (const k of before.keyCredentials) assert.ok(app.keyCredentials.some((x) => JSON.stringify(x) === JSON.stringify(k)), `kept ${k.displayName}`);
  for (const r of before.requiredResourceAccess) assert.ok(app.requiredResourceAccess.some((x) => JSON.stringify(x) === JSON.stringify(r)), 'permission kept');
  assert.deepEqual(count(await state(), appId), { apps: 1, sps: 1, grants: 1, roles: 1 });
  await context.close();

  // Second run on the same app (a new certificate, e.g. a renewal): only the certificate is added.
  const again = await openPage(browser);
  await signIn(again.page, BASE_URL, 'admin');
  await again.page.locator('#tenant-facts').waitFor();
  await chooseExisting(again.page, 'Legacy EXO automation');
  const diff2 = await again.page.locator('#diff').textContent();
  assert.match(diff2, /keep.*service principal exists/is);
  assert.match(diff2, /Exchange\.ManageAsApp is already granted/);
  assert.match(diff2, /Exchange Administrator role is already assigned/);
  await makeAndSave(again.page, DIR, 'legacy-2028');
  await again.page.click('#apply-button');
  await onboarded(again.page);
  const steps = await again.page.locator('#steps').textContent();
  assert.match(steps, /Service principal: already in place, unchanged/);
  assert.match(steps, /Exchange\.ManageAsApp: already in place, unchanged/);
  assert.match(steps, /Entra role: already in place, unchanged/);
  app = (await state()).applications.find((a) => a.appId === appId);
  assert.equal(app.keyCredentials.length, 4);
  assert.ok(app.keyCredentials.some((k) => k.key === first.files.cer.toString('base64')), 'the first run\'s certificate is kept');
  assert.deepEqual(count(await state(), appId), { apps: 1, sps: 1, grants: 1, roles: 1 });
  await again.context.close();
});

test('a failure injected mid-apply stops with a clear message; Retry finishes without duplicates', async () => {
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await page.locator('#app-name').fill('Resumed app');
  await makeAndSave(page, DIR, 'resumed');
  // The role assignment is refused as if the admin lost Privileged Role Administrator.
  await faults({ denyPathContains: '/roleManagement' });
  await page.click('#apply-button');
  await page.locator('#apply-error').waitFor({ timeout: 30000 });
  assert.match(await page.locator('#apply-error').textContent(), /may not assign directory roles.*Privileged Role Administrator.*press Retry/s);
  assert.match(await page.locator('#steps').textContent(), /App registration and certificate: done/);
  assert.equal(await page.locator('#apply-button').textContent(), 'Retry');
  await faults({});
  await page.click('#apply-button');
  const appId = await onboarded(page);
  assert.deepEqual(count(await state(), appId), { apps: 1, sps: 1, grants: 1, roles: 1 });
  await context.close();
});

test('throttling, outages, a dropped connection, 20 s of replication lag and an expiring token all end in success', async () => {
  // Tokens live 3 s: the one from sign-in has expired before Apply and is renewed in memory.
  await faults({ tokenLifetimeSecs: 3 });
  const { context, page, seen } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await page.locator('#app-name').fill('Weathered app');
  await makeAndSave(page, DIR, 'weathered');
  await page.waitForTimeout(3500);
  await faults({ tokenLifetimeSecs: 3, throttleEvery: 3, unavailableEvery: 5, retryAfterSecs: 0.5, dropEvery: 7, replicationLagSecs: 20 });
  const waits = [];
  const poll = setInterval(async () => {
    const t = await page.locator('#waiting').textContent().catch(() => '');
    if (t) waits.push(t);
  }, 200);
  await page.click('#apply-button');
  const appId = await onboarded(page).finally(() => clearInterval(poll));
  await faults({});
  assert.deepEqual(count(await state(), appId), { apps: 1, sps: 1, grants: 1, roles: 1 });
  const shown = waits.join('\n');
  assert.match(shown, /replicate/, shown);
  assert.match(shown, /slow down|briefly unavailable/, shown);
  assert.ok(seen.requests.some((r) => r.url().endsWith('/oauth2/v2.0/token') && (r.postData() ?? '').includes('grant_type=refresh_token')), 'the token was renewed');
  await context.close();
});
