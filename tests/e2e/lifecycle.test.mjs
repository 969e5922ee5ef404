// Day two in Chromium against the simulated tenant's `lifecycle` fixture: the inventory (every
// principal holding Exchange.ManageAsApp, days left, statuses, roles, last use; paging; exports
// checked by Python's csv and icalendar), the report's refusals, a whole rotation proven by MSAL
// for Python (new PFX works while the old key still does; after Remove old the old one is
// refused with AADSTS700027), the refusals that write nothing, the clean-up, and the
// key-never-leaves recorder over all of it.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, state, faults, sim, signIn, makeAndSave, msalResult, msalToken } from './lib/onboard.mjs';
import { leakDetector, recordRequests } from './lib/secrets.mjs';

const DIR = join(tmpdir(), `unattended-lifecycle-${process.pid}`);
const HERE = dirname(fileURLToPath(import.meta.url));
const EXCHANGE_ADMIN = '29232cdf-9323-42fd-ade2-1d097af3e4de';

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });
beforeEach(async () => { await reset('lifecycle'); });

/** Signs in from the start screen's Inventory path and waits for the inventory. */
async function openInventory(page, user = 'admin') {
  await page.goto(BASE_URL);
  await page.locator('label.path', { hasText: 'Inventory and rotation' }).locator('input').check();
  await signIn(page, BASE_URL, user, { keepPage: true });
  await page.locator('#inventory-summary').waitFor({ timeout: 60000 });
}

/** Signs in on the certificate path, then opens the Inventory tab. */
async function inventoryTab(page, user = 'admin') {
  await signIn(page, BASE_URL, user);
  await page.locator('#tenant-facts').waitFor();
  await page.check('#flow-inventory');
  await page.locator('#inventory-summary').waitFor({ timeout: 60000 });
}

const principal = (page, appId) => page.locator(`tbody.principal[data-app-id="${appId}"]`);

function checkExport(kind, path) {
  const out = execFileSync(process.env.PYTHON ?? 'python3', [join(HERE, 'lib', 'check_exports.py'), kind, path]);
  return JSON.parse(out.toString());
}

async function download(page, selector, name) {
  const [d] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const path = join(DIR, name);
  await d.saveAs(path);
  return path;
}

const day = (iso) => iso.slice(0, 10);

test('the inventory lists exactly the holders with their days left, statuses, roles and last use; exports match', async () => {
  const { context, page, seen } = await openPage(browser);
  await openInventory(page);
  const facts = await sim('/_sim/fixture');
  const holders = facts.manageAsAppHolders;
  assert.ok(holders.some((h) => h.page === 2), 'a holder is on page 2 of appRoleAssignedTo');
  // Exactly the holders, nothing else (the decoys and the 130 connectors are not listed).
  const listed = await page.locator('tbody.principal').evaluateAll((els) => els.map((e) => e.dataset.appId).sort());
  assert.deepEqual(listed, holders.map((h) => h.appId).sort());
  assert.equal(await page.locator('#usage-gap').count(), 0, 'the report was read');

  let compared = 0;
  for (const app of facts.applications) {
    if (!holders.some((h) => h.appId === app.appId)) continue;
    const body = principal(page, app.appId);
    for (const c of app.certificates) {
      const row = body.locator(`tr.cert[data-key-id="${c.keyId.toLowerCase()}"]`);
      assert.equal(await row.getAttribute('data-thumbprint'), c.thumbprint, app.displayName);
      const days = Number(await row.locator('.days-left').getAttribute('data-days'));
      assert.ok(c.daysLeft - days >= 0 && c.daysLeft - days < 1.05, `${app.displayName}: ${days} vs ${c.daysLeft}`);
      const status = c.daysLeft <= 0 ? 'expired' : c.daysLeft <= 30 ? 'expiring' : 'valid';
      assert.equal(await row.getAttribute('data-status'), status, `${app.displayName} ${c.keyId}`);
      assert.equal((await row.locator('.last-used').textContent()).trim(), c.lastUsedDateTime ? day(c.lastUsedDateTime) : 'never');
      assert.equal((await row.locator('.bits').textContent()).trim(), 'RSA 2048');
      compared += 1;
    }
  }
  assert.ok(compared >= 7, `${compared} certificates compared`);
  const payroll = facts.applications.find((a) => a.displayName === 'Payroll mailbox export');
  assert.match(await principal(page, payroll.appId).locator('.roles').textContent(), /Exchange Administrator/);
  const helpdesk = facts.applications.find((a) => a.displayName === 'Helpdesk automation');
  assert.match(await principal(page, helpdesk.appId).locator('.warnings').textContent(), /client secret/);
  const archive = facts.applications.find((a) => a.displayName === 'Archive exporter');
  assert.match(await principal(page, archive.appId).locator('.warnings').textContent(), /app-management policy/);
  const mi = holders.find((h) => h.displayName === 'contoso-automation');
  assert.equal(await principal(page, mi.appId).getAttribute('data-kind'), 'ManagedIdentity');

  // Filter and sort.
  await page.fill('#inventory-filter', 'nightly');
  assert.equal(await page.locator('tbody.principal').count(), 1);
  await page.fill('#inventory-filter', '');
  await page.selectOption('#inventory-sort', 'name');
  const names = await page.locator('tbody.principal .principal-name').allTextContents();
  assert.deepEqual(names, [...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
  await page.selectOption('#inventory-status-filter', 'expired');
  assert.deepEqual(await page.locator('tbody.principal .principal-name').allTextContents(), ['Legacy EXO reports']);
  await page.selectOption('#inventory-status-filter', '');

  // The CSV matches the tenant, certificate by certificate; the JSON has no key material; the
  // .ics passes icalendar with one event per certificate, two alarms each.
  const rows = checkExport('csv', await download(page, '#export-csv', 'inventory.csv'));
  const tenant = await state();
  const certs = tenant.applications.filter((a) => holders.some((h) => h.appId === a.appId))
    .flatMap((a) => a.keyCredentials.map((k) => ({ app: a, k })));
  const certRows = rows.filter((r) => r.credentialType === 'certificate');
  assert.equal(certRows.length, certs.length);
  for (const { app, k } of certs) {
    const row = certRows.find((r) => r.keyId === k.keyId.toLowerCase());
    assert.ok(row, `${app.displayName} ${k.keyId} in the CSV`);
    assert.equal(row.appId, app.appId);
    assert.equal(row.end.slice(0, 19), k.endDateTime.slice(0, 19));
  }
  assert.equal(rows.filter((r) => r.credentialType === 'clientSecret').length, 1);
  const json = readFileSync(await download(page, '#export-json', 'inventory.json'), 'utf8');
  for (const { k } of certs) assert.ok(!json.includes(k.key.slice(0, 40)), 'no certificate bytes in the JSON');
  assert.ok(!/"key"\s*:/.test(json));
  const ics = checkExport('ics', await download(page, '#export-ics', 'reminders.ics'));
  assert.equal(ics.events.length, certs.length);
  for (const e of ics.events) assert.deepEqual([...e.alarms].sort(), ['-P30D', '-P7D']);

  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  await context.close();
});

test('without the licence, the inventory still works and says why last use is unknown; removals stay guarded', async () => {
  await faults({ noPremiumLicence: true });
  const { context, page } = await openPage(browser);
  await openInventory(page);
  const facts = await sim('/_sim/fixture');
  assert.equal(await page.locator('#usage-gap').getAttribute('data-missing'), 'Licence');
  assert.match(await page.locator('#usage-gap').textContent(), /no Microsoft Entra ID P1 or P2 licence/);
  assert.equal(await page.locator('tbody.principal').count(), facts.manageAsAppHolders.length);
  const cells = await page.locator('tr.cert .last-used').allTextContents();
  assert.ok(cells.length >= 7 && cells.every((c) => c.trim() === 'unknown'), cells.join());

  // A valid certificate whose last use is unknown: refused without the confirmation.
  const before = await state();
  const nightly = facts.applications.find((a) => a.displayName === 'Nightly mailbox audit');
  const expiring = nightly.certificates.find((c) => c.daysLeft < 30);
  await principal(page, nightly.appId).locator('button.remove').click();
  await page.locator(`#change input.remove-key[data-key-id="${expiring.keyId.toLowerCase()}"]`).check();
  assert.match(await page.locator('#change-gate').textContent(), /unknown.*confirm/s);
  assert.ok(await page.locator('#change-apply').isDisabled());
  assert.deepEqual((await state()).applications, before.applications);
  await context.close();
});

test('an admin without a reading role, and one without the consent, are told what is missing', async () => {
  // Cloud Application Administrator: no role may read sign-in reports.
  let { context, page } = await openPage(browser);
  await openInventory(page, 'appadmin');
  assert.equal(await page.locator('#usage-gap').getAttribute('data-missing'), 'Role');
  assert.match(await page.locator('#usage-gap').textContent(), /Reports Reader/);
  await context.close();

  // A Global Administrator signed in on the certificate path (no AuditLog.Read.All): one click
  // asks for it in a popup, and the last use appears.
  await reset('lifecycle');
  ({ context, page } = await openPage(browser));
  await inventoryTab(page, 'admin');
  assert.equal(await page.locator('#usage-gap').getAttribute('data-missing'), 'Consent');
  const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#allow-last-use')]);
  await popup.waitForLoadState();
  assert.match(new URL(popup.url()).searchParams.get('scope'), /AuditLog\.Read\.All/);
  const { users } = await state();
  const id = users.find((u) => u.userPrincipalName === 'admin@contoso.onmicrosoft.com').id;
  await popup.locator(`input[name=user][value="${id}"]`).check();
  await Promise.all([popup.waitForEvent('close'), popup.click('#accept')]);
  await page.locator('#usage-gap').waitFor({ state: 'detached', timeout: 60000 });
  const facts = await sim('/_sim/fixture');
  const payroll = facts.applications.find((a) => a.displayName === 'Payroll mailbox export');
  const used = payroll.certificates[0];
  assert.equal((await principal(page, payroll.appId).locator(`tr.cert[data-key-id="${used.keyId.toLowerCase()}"] .last-used`).textContent()).trim(), day(used.lastUsedDateTime));
  await context.close();
});

test('a whole rotation: the new PFX works beside the old key, Remove old refuses the old one after, nothing else changes; no secret leaves', async () => {
  const { context, page, seen } = await openPage(browser);
  const sent = recordRequests(page);
  await openInventory(page);
  const facts = await sim('/_sim/fixture');
  const payroll = facts.applications.find((a) => a.displayName === 'Payroll mailbox export');
  const old = payroll.certificates[0];
  const oldKey = await sim(`/_sim/fixture/key/${old.keyId}`);
  const before = (await state()).applications.find((a) => a.appId === payroll.appId);
  // The old certificate works before.
  assert.deepEqual(msalToken({ appId: payroll.appId, keyPem: oldKey.privateKeyPem, thumbprint: oldKey.thumbprint }).wids, [EXCHANGE_ADMIN]);

  // Remove old is not offered for the only certificate.
  assert.ok(await principal(page, payroll.appId).locator('button.remove').isDisabled());
  await principal(page, payroll.appId).locator('button.rotate').click();
  assert.match(await page.locator('#change-gate').textContent(), /Make the new certificate first/);
  const made = await makeAndSave(page, DIR, 'payroll-2027', { section: '#change', prefix: 'rotate-' });
  assert.match(await page.locator('#change-diff').textContent(), /add.*new certificate.*keep.*certificate/s);
  await page.click('#change-apply');
  await page.locator('#change-result').waitFor({ timeout: 60000 });
  assert.match(await page.locator('#change-result').textContent(), new RegExp(`added ${made.thumbprint}`));
  // The final lines carry the new certificate: its file, and its thumbprint for Windows.
  assert.match(await page.locator('#change-snippet-0').textContent(), /payroll-2027\.pfx/);
  assert.match((await page.locator('#change .snippet').allTextContents()).join('\n'), new RegExp(`-CertificateThumbprint '${made.thumbprint}'`));

  // Both work now; the old entry is byte for byte what it was, and the permissions too.
  let app = (await state()).applications.find((a) => a.appId === payroll.appId);
  assert.equal(app.keyCredentials.length, 2);
  assert.deepEqual(app.keyCredentials.find((k) => k.keyId === before.keyCredentials[0].keyId), before.keyCredentials[0]);
  assert.deepEqual(app.requiredResourceAccess, before.requiredResourceAccess);
  assert.deepEqual(app.passwordCredentials, before.passwordCredentials);
  assert.deepEqual(msalToken({ appId: payroll.appId, pfxPath: made.files.pfxPath, password: made.password }).wids, [EXCHANGE_ADMIN]);
  assert.ok(msalResult({ appId: payroll.appId, keyPem: oldKey.privateKeyPem, thumbprint: oldKey.thumbprint }).access_token);
  const added = app.keyCredentials.find((k) => k.keyId !== before.keyCredentials[0].keyId);

  // Remove old: it was used 3 days ago, so the page names the date and waits for the admin.
  await page.click('#scripts-moved');
  await page.locator('#change[data-mode^="Remove"]').waitFor();
  const box = page.locator(`#change input.remove-key[data-key-id="${old.keyId.toLowerCase()}"]`);
  assert.ok(await box.isChecked(), 'the old certificate is ticked');
  const gate = await page.locator('#change-gate').textContent();
  assert.ok(gate.includes(day(old.lastUsedDateTime)), gate);
  assert.ok(await page.locator('#change-apply').isDisabled());
  await page.check(`#change input.confirm-key[data-key-id="${old.keyId.toLowerCase()}"]`);
  assert.match(await page.locator('#change-diff').textContent(), /remove.*keep/s);
  await page.click('#change-apply');
  await page.locator('#change-result').waitFor({ timeout: 60000 });
  assert.match(await page.locator('#change-result').textContent(), /removed/);

  app = (await state()).applications.find((a) => a.appId === payroll.appId);
  assert.deepEqual(app.keyCredentials, [added], 'only the new certificate, verbatim');
  assert.deepEqual(app.requiredResourceAccess, before.requiredResourceAccess);
  const refused = msalResult({ appId: payroll.appId, keyPem: oldKey.privateKeyPem, thumbprint: oldKey.thumbprint });
  assert.ok(!refused.access_token);
  assert.match(refused.error_description, /AADSTS700027/);
  assert.deepEqual(msalToken({ appId: payroll.appId, pfxPath: made.files.pfxPath, password: made.password }).wids, [EXCHANGE_ADMIN]);

  // The recorder over the whole rotation: no secret in any request, and the public
  // certificate travels only in the PATCH that added it (and back, verbatim, in the removal).
  const { leaks } = leakDetector(made);
  assert.ok(sent.length > 5, `recorded ${sent.length} requests`);
  for (const r of sent) assert.deepEqual(leaks(r), [], `${r.method} ${r.url}`);
  const cer = made.files.cer.toString('base64').slice(0, 64);
  const carrying = sent.filter((r) => r.body.toString().includes(cer));
  assert.deepEqual(carrying.map((r) => r.method), ['PATCH', 'PATCH']);
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  await context.close();
});

test('refusals write nothing; Clean up removes only the expired certificates', async () => {
  const { context, page } = await openPage(browser);
  await openInventory(page);
  const facts = await sim('/_sim/fixture');
  const before = await state();
  const legacy = facts.applications.find((a) => a.displayName === 'Legacy EXO reports');
  const valid = legacy.certificates.find((c) => c.daysLeft > 0);
  const expired = legacy.certificates.find((c) => c.daysLeft <= 0);

  // The last valid certificate: refused, nothing sent.
  await principal(page, legacy.appId).locator('button.remove').click();
  await page.check(`#change input.remove-key[data-key-id="${valid.keyId.toLowerCase()}"]`);
  assert.match(await page.locator('#change-gate').textContent(), /Refused: removing .* would leave the app without a valid certificate/);
  assert.ok(await page.locator('#change-apply').isDisabled());
  await page.click('#change-close');
  assert.deepEqual((await state()).applications, before.applications);

  // Clean up: the expired one goes after one confirmation, the valid one stays verbatim.
  await principal(page, legacy.appId).locator('button.cleanup').click();
  assert.ok(await page.locator(`#change input.remove-key[data-key-id="${expired.keyId.toLowerCase()}"]`).isChecked());
  assert.ok(await page.locator('#change-apply').isDisabled());
  await page.check('#cleanup-confirm');
  await page.click('#change-apply');
  await page.locator('#change-result').waitFor({ timeout: 60000 });
  const was = before.applications.find((a) => a.appId === legacy.appId);
  const now = (await state()).applications.find((a) => a.appId === legacy.appId);
  assert.deepEqual(now.keyCredentials, was.keyCredentials.filter((k) => k.keyId.toLowerCase() !== expired.keyId.toLowerCase()));
  for (const a of before.applications.filter((x) => x.appId !== legacy.appId)) {
    assert.deepEqual((await state()).applications.find((x) => x.id === a.id), a, a.displayName);
  }
  // The table was read again: the expired row is gone.
  await page.locator(`tr.cert[data-key-id="${expired.keyId.toLowerCase()}"]`).waitFor({ state: 'detached' });
  await context.close();
});
