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
import { leakDetector, recordRequests } from './lib/secrets.mjs';

const MANAGE_AS_APP = 'dc50a0fb-09a3-484d-be87-e023b12c6440';
const EXCHANGE_ADMIN = '29232cdf-9323-42fd-ade2-1d097af3e4de';
const DIR = join(tmpdir(), `unattended-onboard-${process.pid}`);

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });
beforeEach(async () => { await reset('default'); });

async function onboarded(page, timeout = 60000) {
  try {
    await page.locator('#finished').waitFor({ timeout });
  } catch (e) {
    // Say where the run stood: the steps, the current wait and any stop.
    const text = async (sel) => (await page.locator(sel).first().textContent({ timeout: 1000 }).catch(() => ''))?.trim();
    throw new Error(`${e.message}\nsteps: ${await text('#steps')}\nwaiting: ${await text('#waiting')}\nerror: ${await text('#apply-error')}`);
  }
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
  await page.locator('#existing-filter').fill('legacy');
  assert.deepEqual(await page.locator('#existing-app option').allTextContents(),
    ['Choose an app…', 'Legacy EXO automation (2 certificates)']);
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
  assert.match(steps, /Application permissions: already in place, unchanged/);
  assert.match(steps, /Entra roles: already in place, unchanged/);
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
  // Two creates, each waiting out 20 s of replication with backoff: about a minute.
  const appId = await onboarded(page, 180000).finally(() => clearInterval(poll));
  await faults({});
  assert.deepEqual(count(await state(), appId), { apps: 1, sps: 1, grants: 1, roles: 1 });
  const shown = waits.join('\n');
  assert.match(shown, /replicate/, shown);
  assert.match(shown, /slow down|briefly unavailable/, shown);
  assert.ok(seen.requests.some((r) => r.url().endsWith('/oauth2/v2.0/token') && (r.postData() ?? '').includes('grant_type=refresh_token')), 'the token was renewed');
  await context.close();
});

async function unchanged(before) {
  const after = await state();
  for (const k of ['applications', 'servicePrincipals', 'appRoleAssignments', 'roleAssignments']) {
    assert.deepEqual(after[k], before[k], `${k} must not change`);
  }
}

test('a cancelled consent ends on the start screen with what to do, and nothing is written', async () => {
  const before = await state();
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin', { action: 'cancel' });
  await page.waitForFunction(() => /declined/.test(document.querySelector('#sign-in-status')?.textContent ?? ''));
  assert.match(await page.locator('#sign-in-status').textContent(), /permissions were declined.*Sign in again/s);
  assert.equal(await page.locator('#sign-in').isEnabled(), true);
  await unchanged(before);
  await context.close();
});

test('a plain user without consent is told an admin must consent; after consent, the missing roles are named and nothing is written', async () => {
  const before = await state();
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'user');
  await page.waitForFunction(() => /administrator's consent/.test(document.querySelector('#sign-in-status')?.textContent ?? ''));
  // An admin consents for the organisation; the plain user then gets in, and is stopped by role.
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await signIn(page, BASE_URL, 'user');
  await page.locator('#tenant-facts').waitFor();
  // A role the admin seems to lack is a warning (Graph decides, and names the step it refuses).
  assert.match(await page.locator('#warnings').textContent(), /user@contoso\.onmicrosoft\.com seems to lack a role for this.*Global Administrator/s);
  assert.equal(await page.locator('#apply-button').isDisabled(), true, 'no certificate yet');
  await unchanged(before);
  await context.close();
});

test('a Privileged Role Administrator alone is told app creation needs an application role', async () => {
  const before = await state();
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'pra');
  await page.locator('#tenant-facts').waitFor();
  const warning = await page.locator('#warnings').textContent();
  assert.match(warning, /creating or changing the app registration needs Global Administrator, Application Administrator or Cloud Application Administrator/);
  assert.doesNotMatch(warning, /assigning/);
  assert.match(await page.locator('#policy').textContent(), /could not be read with your role/);
  await makeAndSave(page, DIR, 'pra-try');
  // Not blocked (a role held some way the page cannot see would still work): Graph refuses the
  // first write, the message names what it needs, and nothing is written.
  await page.click('#apply-button');
  await page.locator('#apply-error').waitFor();
  assert.match(await page.locator('#apply-error').textContent(), /may not create or change app registrations.*Application Administrator/s);
  await unchanged(before);
  await context.close();
});

test('a tenant without Exchange Online is stopped before anything is written', async () => {
  await reset('no-exchange');
  const before = await state();
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  assert.match(await page.locator('#warnings').textContent(), /no Exchange Online/);
  assert.match(await page.locator('#blockers').textContent(), /no Exchange Online/);
  await makeAndSave(page, DIR, 'no-exo');
  assert.equal(await page.locator('#apply-button').isDisabled(), true);
  await unchanged(before);
  await context.close();
});

test('a policy-capped tenant is named, only allowed lifetimes are offered, and the longest allowed works', async () => {
  await reset('capped-lifetime');
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  assert.match(await page.locator('#policy').textContent(), /limited to 180 days/);
  const offered = await page.locator('#make #cert-days option').evaluateAll((os) => os.map((o) => Number(o.value)));
  assert.deepEqual(offered, [90, 180]);
  assert.equal(await page.locator('#make #cert-days').inputValue(), '180', 'the longest allowed is preselected');
  await makeAndSave(page, DIR, 'capped');
  await page.click('#apply-button');
  const appId = await onboarded(page);
  const app = (await state()).applications.find((a) => a.appId === appId);
  const days = (Date.parse(app.keyCredentials[0].endDateTime) - Date.parse(app.keyCredentials[0].startDateTime)) / 86400000;
  assert.ok(days <= 180, `${days} days`);
  await context.close();
});

test('a redirect URI the app registration does not list stops at the sign-in page with AADSTS50011', async () => {
  const before = await state();
  const other = (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({
    clientId: '5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10', redirectUri: `${BASE_URL}index.html`,
    authority: `${process.env.SIM_URL}/organizations`, graphBaseUrl: `${process.env.SIM_URL}/v1.0`, sandbox: true }) });
  const { context, page } = await openPage(browser, { routes: [[(u) => u.pathname.endsWith('/config.json'), other]] });
  await page.goto(BASE_URL);
  await page.waitForFunction(() => !document.querySelector('#sign-in')?.disabled);
  await page.click('#sign-in');
  await page.locator('#error').waitFor();
  assert.match(await page.locator('#error').textContent(), /AADSTS50011.*redirect URI/);
  await unchanged(before);
  await context.close();
});

test('the key never leaves: no request, URL, header, body or storage carries the key, the PFX or its password', async () => {
  const { context, page } = await openPage(browser);
  const sent = recordRequests(page);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await page.locator('#app-name').fill('Sealed app');
  const made = await makeAndSave(page, DIR, 'sealed');
  await page.click('#apply-button');
  await onboarded(page);
  await page.click('#save-log').catch(() => {});

  const { leaks, secrets } = leakDetector(made);
  assert.ok(sent.length > 10, `recorded ${sent.length} requests`);
  for (const r of sent) assert.deepEqual(leaks(r), [], `${r.method} ${r.url}`);
  // The only certificate bytes sent are the public certificate, in keyCredentials.
  const cer = made.files.cer.toString('base64');
  const carrying = sent.filter((r) => r.body.toString().includes(cer.slice(0, 64)) || r.url.includes(cer.slice(0, 64)));
  // The app is made by upsert on its alternate key (a create sent twice still makes one app).
  assert.equal(carrying.length, 1, carrying.map((r) => r.url).join(', '));
  assert.match(`${carrying[0].method} ${decodeURIComponent(new URL(carrying[0].url).pathname)}`,
    /^PATCH \/v1\.0\/applications\(uniqueName='unattended-[0-9a-f]{16}'\)$/);
  assert.equal(carrying[0].headers.prefer, 'create-if-missing');
  assert.equal(JSON.parse(carrying[0].body.toString()).keyCredentials[0].key, cer);

  // Storage and cookies at the end.
  const stored = await page.evaluate(async () => ({
    local: Object.entries(localStorage),
    session: Object.entries(sessionStorage),
    databases: (await indexedDB.databases()).map((d) => d.name),
  }));
  assert.deepEqual(stored.local, []);
  assert.deepEqual(stored.session, [], 'the pending sign-in is removed after use');
  assert.deepEqual(stored.databases, []);
  const cookies = JSON.stringify(await context.cookies());
  for (const [what, needles] of Object.entries(secrets)) for (const n of needles) assert.ok(!cookies.includes(n), `${what} in a cookie`);
  // Tokens were never stored either.
  const tokens = sent.filter((r) => r.headers.authorization).map((r) => r.headers.authorization.slice(7, 60));
  assert.ok(tokens.length > 0);
  for (const t of tokens) assert.ok(!JSON.stringify(stored).includes(t), 'a token in storage');
  await context.close();
});

test('on a phone-sized screen the onboarding fits without sideways scrolling and works from the keyboard', async () => {
  const { context, page } = await openPage(browser);
  await page.setViewportSize({ width: 360, height: 740 });
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.locator('#requests > summary').click();
  assert.ok(await overflow() <= 0, `plan: ${await overflow()}px of sideways overflow`);
  await page.locator('#app-name').focus();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Phone app');
  await makeAndSave(page, DIR, 'phone');
  await page.locator('#apply-button').focus();
  await page.keyboard.press('Enter');
  await onboarded(page);
  assert.ok(await overflow() <= 0, `final screen: ${await overflow()}px of sideways overflow`);
  assert.equal((await state()).applications.filter((a) => a.displayName === 'Phone app').length, 1);
  await context.close();
});
