// Beyond Exchange: each workload (Security & Compliance, Microsoft Graph, Teams, SharePoint) set
// up in a whole run against the simulated tenant, then MSAL for Python, with the downloaded PFX,
// gets a token for that workload's resource whose roles and wids are exactly what the plan
// showed; several workloads on one app; Exchange role groups instead of an Entra role; a tenant
// without an API and an unknown permission name stopped before any write; a SharePoint site
// granted after consent in a popup, with the key-never-leaves recorder over the whole run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { sim, state, signIn, makeAndSave, msalToken } from './lib/onboard.mjs';
import { leakDetector, recordRequests } from './lib/secrets.mjs';

const EXCHANGE = '00000002-0000-0ff1-ce00-000000000000';
const GRAPH = '00000003-0000-0000-c000-000000000000';
const SHAREPOINT = '00000003-0000-0ff1-ce00-000000000000';
const TEAMS = '48ac35b8-9aa8-4d74-927d-1f4a14a0b239';
const RESOURCE_URI = {
  [EXCHANGE]: 'https://outlook.office365.com',
  [GRAPH]: 'https://graph.microsoft.com',
  [SHAREPOINT]: 'https://contoso.sharepoint.com',
  [TEAMS]: TEAMS,
};
const DIR = join(tmpdir(), `unattended-workloads-${process.pid}`);

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });

async function finished(page, timeout = 90000) {
  try {
    await page.locator('#finished').waitFor({ timeout });
  } catch (e) {
    const text = async (sel) => (await page.locator(sel).first().textContent({ timeout: 1000 }).catch(() => ''))?.trim();
    throw new Error(`${e.message}\nsteps: ${await text('#steps')}\nerror: ${await text('#apply-error')}\nblockers: ${await text('#blockers')}`);
  }
  return (await page.locator('#done-app-id').textContent()).trim();
}

/** Signs in and sets the workloads: `on` ticked, every other one unticked. */
async function choose(page, on) {
  await page.locator('#tenant-facts').waitFor({ timeout: 15000 });
  for (const w of ['exchange', 'compliance', 'graph', 'teams', 'sharepoint']) {
    await page.locator(`#workload-${w}`).setChecked(on.includes(w));
  }
}

/** What the plan's table hands out: permissions by API, and the role ids. */
async function planned(page) {
  return page.evaluate(() => {
    const perms = {};
    for (const tr of document.querySelectorAll('#access tr[data-resource]')) {
      (perms[tr.dataset.resource] ??= []).push(tr.dataset.value);
    }
    const roles = [...document.querySelectorAll('#access tr[data-role]')].map((tr) => tr.dataset.role);
    return { perms, roles };
  });
}

const sorted = (a) => [...(a ?? [])].sort();

/** MSAL's token for each API the plan named holds exactly the plan's roles, and the wids. */
function assertTokensMatch(plan, appId, made) {
  const apis = new Set([...Object.keys(plan.perms), ...(plan.roles.length ? [EXCHANGE] : [])]);
  for (const api of apis) {
    const claims = msalToken({ appId, pfxPath: made.files.pfxPath, password: made.password, resource: RESOURCE_URI[api] });
    assert.deepEqual(sorted(claims.roles), sorted(plan.perms[api]), `roles in the ${RESOURCE_URI[api]} token`);
    assert.deepEqual(sorted(claims.wids), sorted(plan.roles), `wids in the ${RESOURCE_URI[api]} token`);
  }
}

test('each workload alone: a whole run, and its token holds exactly what the plan showed', async () => {
  const cases = [
    { name: 'SCC reports', on: ['compliance'], check: (p) => assert.deepEqual(p.perms, { [EXCHANGE]: ['Exchange.ManageAsApp'] }) },
    {
      name: 'Graph reports', on: ['graph'],
      setup: async (page) => page.click('#preset-reports'),
      check: (p) => { assert.deepEqual(p.perms, { [GRAPH]: ['Reports.Read.All'] }); assert.deepEqual(p.roles, []); },
    },
    {
      name: 'Teams admin', on: ['teams'],
      check: (p) => { assert.equal(p.perms[GRAPH].length, 8); assert.deepEqual(p.roles, ['69091246-20e8-4a56-aa4d-066075b2a7a8']); },
      teams: true,
    },
    { name: 'SharePoint full', on: ['sharepoint'], check: (p) => assert.deepEqual(p.perms, { [SHAREPOINT]: ['Sites.FullControl.All'] }) },
  ];
  for (const c of cases) {
    await sim('/_sim/reset', { fixture: 'default' });
    const { context, page, seen } = await openPage(browser);
    await signIn(page, BASE_URL, 'admin');
    await choose(page, c.on);
    await c.setup?.(page);
    await page.locator('#app-name').fill(c.name);
    const plan = await planned(page);
    c.check(plan);
    const made = await makeAndSave(page, DIR, c.name.replace(/ /g, '-'));
    await page.click('#apply-button');
    const appId = await finished(page);
    assertTokensMatch(plan, appId, made);
    if (c.teams) {
      // Teams' admin API authorises by the directory role in the token.
      const teams = msalToken({ appId, pfxPath: made.files.pfxPath, password: made.password, resource: TEAMS });
      assert.deepEqual(teams.wids, plan.roles);
      assert.equal(teams.roles, undefined);
    }
    // Each workload's own lines, with the real ids.
    const lines = await page.locator(`#lines-${c.on[0]}`).textContent();
    assert.ok(lines.includes(appId), lines);
    assert.deepEqual(seen.pageErrors, []);
    assert.deepEqual(await seen.cspViolations(), []);
    await context.close();
  }
});

test('Exchange and Graph on one app: both tokens right, and a second run changes no grant or role', async () => {
  await sim('/_sim/reset', { fixture: 'default' });
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await choose(page, ['exchange', 'graph']);
  // Picked from the searchable list built from Graph's app roles, and one typed by name.
  await page.locator('#graph-search').fill('user.read.all');
  await page.locator('input.graph-offer[data-value="User.Read.All"]').check();
  await page.locator('#graph-add-name').fill('Mail.Send');
  await page.click('#graph-add');
  const plan = await planned(page);
  assert.deepEqual(sorted(plan.perms[GRAPH]), ['Mail.Send', 'User.Read.All']);
  // Mail.Send reaches every mailbox: the plan says so.
  assert.match(await page.locator('#access tr.broad[data-value="Mail.Send"]').textContent(), /sends mail as any user/);
  // Graph's Mail.Send has Exchange's id, yet is granted on Graph's principal.
  const ids = await page.locator('#access tr[data-value="Mail.Send"] code.id').textContent();
  assert.equal(ids.trim(), 'b633e1c5-b582-4048-a93e-9f11b44c7e96');
  await page.locator('#app-name').fill('EXO and Graph');
  const made = await makeAndSave(page, DIR, 'EXO-and-Graph');
  await page.click('#apply-button');
  const appId = await finished(page);
  assertTokensMatch(plan, appId, made);
  const before = await state();
  const sp = before.servicePrincipals.find((s) => s.appId === appId);
  const grantsOf = (t) => t.appRoleAssignments.filter((a) => a.principalId === sp.id).map((a) => `${a.resourceId}/${a.appRoleId}`).sort();
  const rolesOf = (t) => t.roleAssignments.filter((r) => r.principalId === sp.id).map((r) => r.roleDefinitionId).sort();
  assert.equal(grantsOf(before).length, 3);
  await context.close();

  // Again, on the same app: every grant and role is kept, nothing is written but the new
  // certificate (the old one stays).
  const again = await openPage(browser);
  await signIn(again.page, BASE_URL, 'admin');
  await choose(again.page, ['exchange', 'graph']);
  await again.page.locator('#graph-add-name').fill('User.Read.All');
  await again.page.click('#graph-add');
  await again.page.locator('#graph-add-name').fill('Mail.Send');
  await again.page.click('#graph-add');
  await again.page.locator('#target-existing').check();
  const option = again.page.locator('#existing-app option', { hasText: 'EXO and Graph' });
  await again.page.selectOption('#existing-app', await option.getAttribute('value'));
  await again.page.locator('#diff li.keep', { hasText: 'already granted' }).waitFor({ timeout: 15000 });
  assert.match(await again.page.locator('#diff').textContent(), /The Exchange Administrator role is already assigned/);
  const second = await makeAndSave(again.page, DIR, 'EXO-and-Graph-2');
  await again.page.click('#apply-button');
  assert.equal(await finished(again.page), appId);
  assert.match(await again.page.locator('#steps li[data-step="Grant"]').textContent(), /already in place, unchanged/);
  assert.match(await again.page.locator('#steps li[data-step="Role"]').textContent(), /already in place, unchanged/);
  const after = await state();
  assert.deepEqual(grantsOf(after), grantsOf(before));
  assert.deepEqual(rolesOf(after), rolesOf(before));
  const app = after.applications.find((a) => a.appId === appId);
  assert.equal(app.keyCredentials.length, 2, 'the first certificate is kept');
  assertTokensMatch(plan, appId, second);
  await again.context.close();
});

test('an Exchange role group instead of an Entra role: the grant, no role, the real ids in the lines', async () => {
  await sim('/_sim/reset', { fixture: 'default' });
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await choose(page, ['exchange']);
  await page.locator('#exchange-rbac-group').check();
  await page.selectOption('#role-group', 'View-Only Organization Management');
  await page.locator('#diff li.keep', { hasText: 'role group' }).waitFor();
  assert.deepEqual((await planned(page)).roles, []);
  await page.locator('#app-name').fill('EXO read-only');
  const made = await makeAndSave(page, DIR, 'EXO-read-only');
  await page.click('#apply-button');
  const appId = await finished(page);
  const tenant = await state();
  const sp = tenant.servicePrincipals.find((s) => s.appId === appId);
  assert.equal(tenant.roleAssignments.filter((r) => r.principalId === sp.id).length, 0, 'no Entra role');
  assert.equal(tenant.appRoleAssignments.filter((a) => a.principalId === sp.id).length, 1);
  const claims = msalToken({ appId, pfxPath: made.files.pfxPath, password: made.password });
  assert.deepEqual(claims.roles, ['Exchange.ManageAsApp']);
  assert.deepEqual(claims.wids ?? [], []);
  const lines = await page.locator('#lines-exchange').textContent();
  assert.ok(lines.includes(`New-ServicePrincipal -AppId '${appId}' -ObjectId '${sp.id}'`), lines);
  assert.ok(lines.includes(`Add-RoleGroupMember -Identity 'View-Only Organization Management' -Member '${sp.id}'`), lines);
  assert.equal((await page.locator('#done-sp-id').textContent()).trim(), sp.id);
  await context.close();
});

test('a tenant without the Teams API and an unknown Graph name are stopped before any write', async () => {
  await sim('/_sim/reset', { fixture: 'default', missingResources: [TEAMS] });
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await choose(page, ['exchange', 'teams']);
  await page.locator('#app-name').fill('Teams nowhere');
  assert.match(await page.locator('#blockers').textContent(), /no "Skype and Teams Tenant Admin API" service principal.*Microsoft Teams PowerShell/s);
  await makeAndSave(page, DIR, 'Teams-nowhere');
  assert.equal(await page.locator('#apply-button').isDisabled(), true);
  assert.match(await page.locator('#apply-gate').textContent(), /cannot be applied/);

  await choose(page, ['graph']);
  await page.locator('#graph-add-name').fill('User.Read.Everything');
  await page.click('#graph-add');
  assert.match(await page.locator('#blockers').textContent(), /Microsoft Graph offers no application permission named "User\.Read\.Everything"/);
  assert.equal(await page.locator('#apply-button').isDisabled(), true);
  const tenant = await state();
  assert.equal(tenant.applications.filter((a) => /Teams nowhere/.test(a.displayName)).length, 0, 'nothing written');
  await context.close();
});

test('Sites.Selected: the site grant after consent in a popup; no key material leaves in a multi-workload run', async () => {
  await sim('/_sim/reset', { fixture: 'default' });
  const { context, page, seen } = await openPage(browser);
  const sent = recordRequests(page);
  await signIn(page, BASE_URL, 'admin');
  await choose(page, ['exchange', 'graph', 'sharepoint']);
  await page.click('#preset-audit');
  await page.locator('#sp-selected').check();
  await page.locator('#sp-site').fill('https://contoso.sharepoint.com/sites/Finance');
  await page.selectOption('#sp-site-role', 'write');
  await page.locator('#app-name').fill('Finance files');
  const plan = await planned(page);
  assert.deepEqual(plan.perms[SHAREPOINT], ['Sites.Selected']);
  assert.match(await page.locator('#diff').textContent(), /Grant the app "write" on https:\/\/contoso\.sharepoint\.com\/sites\/Finance/);
  const made = await makeAndSave(page, DIR, 'Finance-files');
  await page.click('#apply-button');

  // The page's sign-in lacks Sites.FullControl.All: the site step stops, everything else done.
  await page.locator('#allow-site-grants').waitFor({ timeout: 90000 });
  assert.match(await page.locator('#apply-error').textContent(), /SharePoint Administrator or Global Administrator/);
  const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#allow-site-grants')]);
  await popup.waitForLoadState();
  assert.match(new URL(popup.url()).searchParams.get('scope'), /Sites\.FullControl\.All/);
  const { users } = await state();
  const id = users.find((u) => u.userPrincipalName === 'admin@contoso.onmicrosoft.com').id;
  await popup.locator(`input[name=user][value="${id}"]`).check();
  await Promise.all([popup.waitForEvent('close'), popup.click('#accept')]);
  const appId = await finished(page);

  const tenant = await state();
  const finance = tenant.sites.find((s) => /\/sites\/Finance$/.test(s.webUrl));
  const granted = finance.permissions.filter((p) => JSON.stringify(p).includes(appId));
  assert.equal(granted.length, 1, JSON.stringify(finance.permissions));
  assert.deepEqual(granted[0].roles, ['write']);
  assertTokensMatch(plan, appId, made);
  assert.match(await page.locator('#lines-sharepoint').textContent(), /Connect-PnPOnline -Url 'https:\/\/contoso\.sharepoint\.com\/sites\/Finance'/);

  // No request carried the password, the PFX or the private key in any encoding.
  const { leaks } = leakDetector(made);
  const found = sent.flatMap((r) => leaks(r).map((what) => `${what} in ${r.method} ${r.url}`));
  assert.deepEqual(found, []);
  assert.ok(sent.some((r) => r.body.includes(made.files.cer.toString('base64'))), 'the public certificate did go');
  assert.deepEqual(seen.pageErrors, []);
  await context.close();
});
