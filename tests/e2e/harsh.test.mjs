// The page against a tenant as unkind as Microsoft's: a Conditional Access claims challenge in
// the middle of apply, answered in a popup while the key stays in memory; a tenant too large
// for one page of any list (the app beyond the first 999, the admin whose role comes through a
// group on page 2, the identity behind 120 look-alikes); an admin whose role is only eligible
// in PIM; and a certificate added in the portal between the plan and the apply.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, state, faults, sim, signIn, makeAndSave, msalToken } from './lib/onboard.mjs';

const EXCHANGE_ADMIN = '29232cdf-9323-42fd-ade2-1d097af3e4de';
const MI_OBJECT_ID = 'a1b2c3d4-0000-4000-8000-00000000a001';
const DIR = join(tmpdir(), `unattended-harsh-${process.pid}`);

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });
beforeEach(async () => { await reset('default'); });

async function chooseExisting(page, name) {
  await page.locator('#existing-filter').fill(name);
  const option = page.locator('#existing-app option', { hasText: name });
  await page.selectOption('#existing-app', await option.getAttribute('value'));
  await page.locator('#diff li.keep').first().waitFor();
}

test('a claims challenge mid-apply is answered in a popup; the key stays in memory and the run finishes', async () => {
  const { context, page, seen } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await page.locator('#app-name').fill('EXO challenged');
  const made = await makeAndSave(page, DIR, 'EXO-challenged');
  // Revocation compares whole seconds of the token's iat: the challenge comes later.
  await sim('/_sim/clock', { advanceMs: 1500 });
  await faults({ claimsChallenge: { pathContains: '/roleManagement/directory/roleAssignments', nth: 1 } });
  await page.click('#apply-button');
  await page.locator('#sign-in-again').waitFor({ timeout: 60000 });
  assert.match(await page.locator('#apply-error').textContent(), /continuous access evaluation.*Sign in again.*certificate in memory/s);
  // What was made before the challenge is named.
  assert.match(await page.locator('#made').textContent(), /App registration: object id/);

  const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#sign-in-again')]);
  await popup.waitForLoadState();
  const url = new URL(popup.url());
  assert.ok(url.searchParams.get('claims')?.includes('"nbf"'), `the claims travel: ${popup.url()}`);
  assert.equal(url.searchParams.get('login_hint'), 'admin@contoso.onmicrosoft.com');
  const { users } = await state();
  const id = users.find((u) => u.userPrincipalName === 'admin@contoso.onmicrosoft.com').id;
  await popup.locator(`input[name=user][value="${id}"]`).check();
  await Promise.all([popup.waitForEvent('close'), popup.click('#accept')]);

  await page.locator('#finished').waitFor({ timeout: 60000 });
  // Same page, same certificate: the one saved before the challenge.
  assert.equal((await page.locator('#done-thumbprint').textContent()).trim(), made.thumbprint);
  const appId = (await page.locator('#done-app-id').textContent()).trim();
  const tenant = await state();
  assert.equal(tenant.applications.filter((a) => a.displayName === 'EXO challenged').length, 1);
  const sp = tenant.servicePrincipals.find((s) => s.appId === appId);
  assert.equal(tenant.roleAssignments.filter((r) => r.principalId === sp.id).length, 1);
  const claims = msalToken({ appId, pfxPath: made.files.pfxPath, password: made.password });
  assert.deepEqual(claims.wids, [EXCHANGE_ADMIN]);
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  await context.close();
});

test('a blocked popup gets its own message and the run waits', async () => {
  const { context, page } = await openPage(browser);
  await page.addInitScript(() => { window.open = () => null; });
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await page.locator('#app-name').fill('EXO blocked popup');
  await makeAndSave(page, DIR, 'EXO-blocked');
  await sim('/_sim/clock', { advanceMs: 1500 });
  await faults({ claimsChallenge: { pathContains: '/appRoleAssignedTo', nth: 1 } });
  await page.click('#apply-button');
  await page.locator('#sign-in-again').waitFor({ timeout: 60000 });
  await page.click('#sign-in-again');
  await page.waitForFunction(() => /blocked the sign-in window/.test(document.querySelector('#sign-in-again-error')?.textContent ?? ''));
  assert.equal(await page.locator('#sign-in-again').isVisible(), true, 'still offered');
  await context.close();
});

test('a large tenant: the group-held role on page 2 counts, the app beyond 999 is chosen and keeps its certificate', async () => {
  await reset('big');
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'groupadmin');
  await page.locator('#tenant-facts').waitFor({ timeout: 30000 });
  assert.match(await page.locator('#admin').textContent(), /Global Administrator/);
  assert.equal(await page.locator('#warnings').count(), 0, 'no role warning');
  const before = (await state()).applications.find((a) => a.displayName === 'Ops EXO automation');
  await chooseExisting(page, 'Ops EXO automation');
  await makeAndSave(page, DIR, 'ops-2027');
  await page.click('#apply-button');
  await page.locator('#finished').waitFor({ timeout: 60000 });
  const app = (await state()).applications.find((a) => a.id === before.id);
  assert.equal(app.keyCredentials.length, 2);
  assert.ok(app.keyCredentials.some((k) => k.keyId === before.keyCredentials[0].keyId), 'the old certificate is kept');
  // The identity behind 120 service principals that share its name's prefix.
  await page.locator('#flow-identity').check();
  await page.locator('#mi-query').fill('contoso-automation');
  await page.click('#mi-search');
  await page.locator('#mi-holds').waitFor({ timeout: 30000 });
  assert.match(await page.locator('#mi-results').textContent(), new RegExp(MI_OBJECT_ID));
  await context.close();
});

test('an admin whose role is only eligible in PIM is told to activate it and sign in again', async () => {
  await reset('big');
  const { context, page } = await openPage(browser);
  // An active administrator consents to the page for the organisation first.
  await signIn(page, BASE_URL, 'groupadmin');
  await page.locator('#tenant-facts').waitFor({ timeout: 30000 });
  await signIn(page, BASE_URL, 'eligible');
  await page.locator('#tenant-facts').waitFor({ timeout: 30000 });
  assert.match(await page.locator('#warnings').textContent(), /eligible for Global Administrator in Privileged Identity Management.*activate it.*sign in again/s);
  await context.close();
});

test('a certificate added in the portal between the plan and the apply is kept', async () => {
  await reset('existing-app');
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await chooseExisting(page, 'Legacy EXO automation');
  const ours = await makeAndSave(page, DIR, 'legacy-ours');
  // Another admin adds a certificate meanwhile (the page's plan showed two).
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(DIR, 'portal.key'),
    '-subj', '/CN=portal-added', '-days', '30', '-outform', 'DER', '-out', join(DIR, 'portal.cer')], { stdio: 'ignore' });
  const app = (await state()).applications.find((a) => a.displayName === 'Legacy EXO automation');
  const { access_token: token } = await sim('/_sim/token', { user: 'admin' });
  const graph = `${process.env.SIM_URL}/v1.0/applications/${app.id}`;
  const full = await (await fetch(`${graph}?$select=keyCredentials`, { headers: { authorization: `Bearer ${token}` } })).json();
  const added = { type: 'AsymmetricX509Cert', usage: 'Verify', key: readFileSync(join(DIR, 'portal.cer')).toString('base64') };
  const r = await fetch(graph, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ keyCredentials: [...full.keyCredentials, added] }),
  });
  assert.equal(r.status, 204);
  await page.click('#apply-button');
  await page.locator('#finished').waitFor({ timeout: 60000 });
  const after = (await state()).applications.find((a) => a.id === app.id);
  const keys = after.keyCredentials.map((k) => k.key);
  assert.equal(keys.length, 4, 'two old, the portal one, ours');
  assert.ok(keys.includes(added.key) && keys.includes(ours.files.cer.toString('base64')));
  await context.close();
});
