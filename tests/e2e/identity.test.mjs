// The managed-identity path in Chromium against the simulated tenant: find the Automation
// account's identity, see it before anything is written, grant Exchange.ManageAsApp and the role,
// get the runbook's lines; a token the simulator's instance-metadata stand-in issues for the
// identity then carries both.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, state, sim, SIM_URL, signIn } from './lib/onboard.mjs';

const MI_OBJECT_ID = 'a1b2c3d4-0000-4000-8000-00000000a001';
const MI_CLIENT_ID = 'a1b2c3d4-0000-4000-8000-00000000c001';
const UAMI_OBJECT_ID = 'a1b2c3d4-0000-4000-8000-00000000b001';
const UAMI_CLIENT_ID = 'a1b2c3d4-0000-4000-8000-00000000d001';
const UAMI_RESOURCE = '/subscriptions/0a1b2c3d-0000-4000-8000-000000000001/resourcegroups/ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops-runbooks-identity';
const MANAGE_AS_APP = 'dc50a0fb-09a3-484d-be87-e023b12c6440';
const EXCHANGE_ADMIN = '29232cdf-9323-42fd-ade2-1d097af3e4de';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
beforeEach(async () => { await reset('default'); });

async function identityToken(query = '') {
  const r = await fetch(`${SIM_URL}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://outlook.office365.com/${query}`, { headers: { Metadata: 'true' } });
  const { access_token: token } = await r.json();
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/** Signs in with the managed-identity path chosen on the start screen. */
async function signInForIdentity(page, user) {
  await page.goto(BASE_URL);
  await page.locator('input[name=path]').nth(1).check();
  await signIn(page, BASE_URL, user, { keepPage: true });
  await page.locator('#tenant-facts').waitFor();
  assert.equal(await page.locator('#flow-identity').isChecked(), true, 'the path chosen before sign-in is kept');
}

async function find(page, text) {
  await page.locator('#mi-query').fill(text);
  await page.click('#mi-search');
}

const grants = (t, principal) => t.appRoleAssignments.filter((a) => a.principalId === principal);
const roles = (t, principal) => t.roleAssignments.filter((r) => r.principalId === principal);

test('a system-assigned identity, found by name, is granted by a Privileged Role Administrator; a second run changes nothing', async () => {
  assert.equal((await identityToken()).roles, undefined);
  const { context, page, seen } = await openPage(browser);
  await signInForIdentity(page, 'pra');
  await find(page, 'contoso');
  await page.locator('#mi-holds').waitFor();
  assert.match(await page.locator('#mi-results').textContent(), /contoso-automation \(system-assigned\).*a1b2c3d4-0000-4000-8000-00000000a001.*a1b2c3d4-0000-4000-8000-00000000c001/s);
  assert.match(await page.locator('#mi-holds').textContent(), /no Exchange\.ManageAsApp yet; no admin role/);
  const diff = await page.locator('#mi-diff').textContent();
  assert.match(diff, /Grant Exchange\.ManageAsApp/);
  assert.match(diff, /Assign the Exchange Administrator role/);
  assert.match(await page.locator('#mi-requests').textContent(), new RegExp(`"principalId":"${MI_OBJECT_ID}"`), 'the object id, never the client id');
  await page.click('#mi-apply-button');
  await page.locator('#mi-finished').waitFor({ timeout: 30000 });
  const lines = await page.locator('#mi-snippet-1').textContent();
  assert.match(lines, /^Connect-ExchangeOnline -ManagedIdentity -Organization 'contoso\.onmicrosoft\.com'\n/);
  assert.doesNotMatch(lines, /ManagedIdentityAccountId/);
  assert.match(await page.locator('#mi-snippet-0').textContent(), /ExchangeOnlineManagement/);
  assert.match(await page.locator('#mi-propagation').textContent(), /15 minutes/);

  const token = await identityToken();
  assert.deepEqual(token.roles, ['Exchange.ManageAsApp']);
  assert.deepEqual(token.wids, [EXCHANGE_ADMIN]);
  assert.deepEqual(seen.pageErrors, []);
  await context.close();

  const before = await state();
  const again = await openPage(browser);
  await signInForIdentity(again.page, 'pra');
  await find(again.page, MI_OBJECT_ID);
  await again.page.locator('#mi-holds').waitFor();
  assert.match(await again.page.locator('#mi-holds').textContent(), /It holds: Exchange\.ManageAsApp; Exchange Administrator/);
  assert.match(await again.page.locator('#mi-diff').textContent(), /already granted.*already assigned/s);
  await again.page.click('#mi-apply-button');
  await again.page.locator('#mi-finished').waitFor();
  assert.match(await again.page.locator('#mi-steps').textContent(), /Application permissions: already in place, unchanged.*Entra roles: already in place, unchanged/s);
  const after = await state();
  assert.deepEqual(after.appRoleAssignments, before.appRoleAssignments);
  assert.deepEqual(after.roleAssignments, before.roleAssignments);
  await again.context.close();
});

test('a user-assigned identity that already holds the app role, found by resource id, keeps it and gets only the role', async () => {
  // Someone granted the app role earlier (with PowerShell, say).
  const { access_token: token } = await sim('/_sim/token', { user: 'admin' });
  const graph = (path, body) => fetch(`${SIM_URL}/v1.0${path}`, { method: body ? 'POST' : 'GET', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) }).then((r) => r.json());
  const exo = (await graph(`/servicePrincipals?$filter=appId eq '00000002-0000-0ff1-ce00-000000000000'`)).value[0].id;
  const earlier = await graph(`/servicePrincipals/${exo}/appRoleAssignedTo`, { principalId: UAMI_OBJECT_ID, resourceId: exo, appRoleId: MANAGE_AS_APP });

  const { context, page } = await openPage(browser);
  await signInForIdentity(page, 'admin');
  await find(page, UAMI_RESOURCE);
  await page.locator('#mi-holds').waitFor();
  assert.match(await page.locator('#mi-results').textContent(), /ops-runbooks-identity \(user-assigned\)/);
  const diff = await page.locator('#mi-diff').textContent();
  assert.match(diff, /keep.*Exchange\.ManageAsApp is already granted/s);
  assert.match(diff, /create.*Assign the Exchange Administrator role/s);
  await page.click('#mi-apply-button');
  await page.locator('#mi-finished').waitFor({ timeout: 30000 });
  assert.match(await page.locator('#mi-snippet-1').textContent(), new RegExp(`-ManagedIdentityAccountId '${UAMI_CLIENT_ID}'`));
  const t = await state();
  assert.deepEqual(grants(t, UAMI_OBJECT_ID).map((g) => g.id), [earlier.id], 'the earlier grant is kept, not duplicated');
  assert.equal(roles(t, UAMI_OBJECT_ID).length, 1);
  const claims = await identityToken(`&client_id=${UAMI_CLIENT_ID}`);
  assert.deepEqual(claims.roles, ['Exchange.ManageAsApp']);
  assert.deepEqual(claims.wids, [EXCHANGE_ADMIN]);
  await context.close();
});

test('a wrong id and a service principal that is not a managed identity are refused; a client id is recognised', async () => {
  const before = await state();
  const { context, page } = await openPage(browser);
  await signInForIdentity(page, 'admin');
  await find(page, '11111111-2222-4333-8444-555555555555');
  await page.waitForFunction(() => document.querySelector('#mi-error')?.textContent.length > 0);
  assert.match(await page.locator('#mi-error').textContent(), /No managed identity matches the id 11111111-2222-4333-8444-555555555555.*Object \(principal\) ID/s);
  const spa = before.servicePrincipals.find((s) => s.appId === '5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10');
  await find(page, spa.id);
  await page.waitForFunction(() => /not a managed identity/.test(document.querySelector('#mi-error')?.textContent ?? ''));
  assert.match(await page.locator('#mi-error').textContent(), /is a service principal of type Application, not a managed identity/);
  assert.equal(await page.locator('#mi-apply-button').isDisabled(), true);
  await find(page, MI_CLIENT_ID);
  await page.locator('#mi-holds').waitFor();
  assert.match(await page.locator('#mi-note').textContent(), new RegExp(`client \\(application\\) id of "contoso-automation".*${MI_OBJECT_ID}`, 's'));
  assert.match(await page.locator('#mi-requests').textContent(), new RegExp(`"principalId":"${MI_OBJECT_ID}"`));
  const after = await state();
  assert.deepEqual(after.appRoleAssignments, before.appRoleAssignments);
  assert.deepEqual(after.roleAssignments, before.roleAssignments);
  await context.close();
});
