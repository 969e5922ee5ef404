// Azure Automation end to end against the simulated tenant and its Azure Resource Manager:
// an account whose identity is off, taken to a started runbook whose output shows the Exchange
// connection (a second run changes nothing); the certificate asset, opt-in, with the
// key-never-leaves recorder proving nothing goes with the option off and the PFX goes only to
// that account's certificate endpoint over HTTPS with it on; a failed module import shown with
// its reason and Retry; an admin without the Azure role told which role on which scope while
// the Microsoft Entra part completes.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { sim, state, signIn, makeAndSave } from './lib/onboard.mjs';
import { QUICK, findAccounts, choose, applied, testRun } from './lib/automation.mjs';
import { leakDetector, recordRequests } from './lib/secrets.mjs';

const MANAGE_AS_APP = 'dc50a0fb-09a3-484d-be87-e023b12c6440';
const EXCHANGE_ADMIN = '29232cdf-9323-42fd-ade2-1d097af3e4de';
const DIR = join(tmpdir(), `unattended-automation-${process.pid}`);

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });
beforeEach(async () => { await sim('/_sim/reset', { fixture: 'default', ...QUICK }); });

const account = (tenant, name) => tenant.arm.accounts.find((a) => a.name === name);

test('an account whose identity is off, to a runbook that connects; a second run changes nothing', async () => {
  const { context, page, seen } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await page.check('#flow-identity');
  await findAccounts(context, page, 'admin');
  assert.match(await page.locator('#aa-accounts').textContent(), /contoso-reports — automation-rg, .*system-assigned identity off/);
  await choose(page, 'contoso-reports');
  const diff = await page.locator('#aa-plan').textContent();
  assert.match(diff, /Turn on "contoso-reports"'s system-assigned identity/);
  assert.match(diff, /Import ExchangeOnlineManagement [\d.]+ for PowerShell 7\.2/);
  assert.match(diff, /Create the PowerShell 7\.2 runbook/);
  await page.click('#aa-apply');
  await applied(page);

  const tenant = await state();
  const principal = account(tenant, 'contoso-reports').identity.principalId;
  assert.ok(principal, 'the identity is on');
  assert.equal(tenant.appRoleAssignments.filter((a) => a.principalId === principal && a.appRoleId === MANAGE_AS_APP).length, 1);
  assert.equal(tenant.roleAssignments.filter((r) => r.principalId === principal && r.roleDefinitionId === EXCHANGE_ADMIN).length, 1);

  const run = await testRun(page);
  assert.equal(run.status, 'Completed', run.output);
  assert.match(run.output, /Connected to Exchange Online as .*contoso-reports.*Exchange Administrator/s);
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  await context.close();

  // Again, from a fresh page: every step finds its work done.
  const again = await openPage(browser);
  await signIn(again.page, BASE_URL, 'admin');
  await again.page.locator('#tenant-facts').waitFor();
  await again.page.check('#flow-identity');
  await findAccounts(again.context, again.page, 'admin');
  await choose(again.page, 'contoso-reports');
  assert.equal(await again.page.locator('#aa-plan .diff li:not(.keep)').count(), 0, await again.page.locator('#aa-plan .diff').textContent());
  const before = JSON.stringify(account(await state(), 'contoso-reports'));
  await again.page.click('#aa-apply');
  await applied(again.page);
  const steps = await again.page.locator('#aa-steps').textContent();
  for (const s of ['Automation account identity', 'Application permissions', 'Entra roles', 'ExchangeOnlineManagement module', 'Runbook']) {
    assert.match(steps, new RegExp(`${s}: already in place, unchanged`), steps);
  }
  const after = await state();
  assert.equal(JSON.stringify(account(after, 'contoso-reports')), before);
  assert.equal(after.appRoleAssignments.filter((a) => a.principalId === principal).length, 1);
  await again.context.close();
});

test('the certificate asset is opt-in: nothing leaves without it, only the PFX to the account over HTTPS with it', async () => {
  const { context, page } = await openPage(browser);
  const sent = recordRequests(page);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await page.locator('#app-name').fill('EXO runbook');
  const made = await makeAndSave(page, DIR, 'EXO-runbook');
  await page.click('#apply-button');
  await page.locator('#finished').waitFor({ timeout: 60000 });
  const appId = (await page.locator('#done-app-id').textContent()).trim();

  await findAccounts(context, page, 'admin', 'cert-');
  await choose(page, 'contoso-reports', 'cert-');
  assert.match(await page.locator('#cert-aa-upload-why').textContent(), /the key goes to your Automation account, encrypted there, and to no one else/);
  assert.equal(await page.locator('#cert-aa-upload').isChecked(), false, 'off by default');
  await page.click('#cert-aa-apply');
  await applied(page, 'cert-');
  const { leaks } = leakDetector(made);
  const leaked = () => sent.flatMap((r) => leaks(r).map((what) => ({ what, method: r.method, url: r.url })));
  assert.deepEqual(leaked(), [], 'with the option off, no key material in any request');
  assert.equal((await state()).arm.accounts.find((a) => a.name === 'contoso-reports').certificates?.length ?? 0, 0);

  await page.check('#cert-aa-upload');
  await page.fill('#cert-aa-password', made.password);
  await page.locator('#cert-aa-plan .diff', { hasText: 'Upload the PFX' }).waitFor({ timeout: 30000 });
  await page.click('#cert-aa-apply');
  await page.waitForFunction(() => /Certificate asset: (done|already)/.test(document.querySelector('#cert-aa-steps')?.textContent ?? ''), null, { timeout: 60000 });
  const carriers = [...new Set(leaked().map((l) => `${l.method} ${l.url}`))];
  assert.equal(carriers.length, 1, JSON.stringify(carriers));
  assert.match(carriers[0], /^PUT https:\/\/127\.0\.0\.1:\d+\/arm\/subscriptions\/.*\/automationAccounts\/contoso-reports\/certificates\/EXO-App\?api-version=/);
  const asset = account(await state(), 'contoso-reports').certificates.find((c) => c.name === 'EXO-App');
  assert.equal(asset.thumbprint.toUpperCase(), made.thumbprint);

  const run = await testRun(page, 'cert-');
  assert.equal(run.status, 'Completed', run.output);
  assert.match(run.output, new RegExp(`Connected to Exchange Online as .*${appId}|Connected to Exchange Online as .*EXO runbook`, 's'));
  await context.close();
});

test('a failed module import is shown with its reason and Retry; without the Azure role the role and scope are named and Entra is done', async () => {
  const { context, page } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor();
  await page.check('#flow-identity');
  await findAccounts(context, page, 'admin');
  await choose(page, 'contoso-automation');
  await sim('/_sim/faults', { ...QUICK, armModuleFailure: "Orchestrator.Shared.AsyncModuleImport.ModuleImportException: Cannot import the module of name ExchangeOnlineManagement, as the module structure was invalid." });
  await page.click('#aa-apply');
  await page.locator('#aa-error', { hasText: 'could not import' }).waitFor({ timeout: 90000 });
  assert.match(await page.locator('#aa-error').textContent(), /module structure was invalid.*Press Retry/s);
  assert.equal(await page.locator('#aa-apply').textContent(), 'Retry');
  await sim('/_sim/faults', QUICK);
  await page.click('#aa-apply');
  await applied(page);
  await context.close();

  // A Global Administrator who is only Reader in Azure.
  await sim('/_sim/reset', { fixture: 'default', ...QUICK });
  const reader = await openPage(browser);
  await signIn(reader.page, BASE_URL, 'gaonly');
  await reader.page.locator('#tenant-facts').waitFor();
  await reader.page.check('#flow-identity');
  await findAccounts(reader.context, reader.page, 'gaonly');
  await choose(reader.page, 'contoso-automation');
  await reader.page.click('#aa-apply');
  await reader.page.locator('#aa-error', { hasText: 'Automation Contributor' }).waitFor({ timeout: 90000 });
  const said = await reader.page.locator('#aa-error').textContent();
  assert.match(said, /does not have authorization to perform action '.*' over scope '.*\/automationAccounts\/contoso-automation/);
  assert.match(said, /needs the Automation Contributor role \(or Contributor or Owner\) on \/subscriptions\/.*\/automationAccounts\/contoso-automation/);
  const steps = await reader.page.locator('#aa-steps').textContent();
  assert.match(steps, /Application permissions: done/);
  assert.match(steps, /Entra roles: done/);
  const tenant = await state();
  const principal = account(tenant, 'contoso-automation').identity.principalId;
  assert.equal(tenant.appRoleAssignments.filter((a) => a.principalId === principal && a.appRoleId === MANAGE_AS_APP).length, 1);
  await reader.context.close();
});
