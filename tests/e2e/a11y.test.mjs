// Accessibility and layout, every screen of both paths, in Chromium against the simulated tenant:
// axe-core finds nothing in light and dark colour schemes, nothing scrolls sideways from 320 to
// 1920 px, nothing moves when reduced motion is asked for; key generation and each apply step
// are announced; the focus goes where the next step is; and a whole onboarding (new app, the
// default workload) is done with the keyboard alone, every control showing its focus. Also the
// screens shown while the sign-in is finished and the tenant read, the one shown when the tenant
// cannot be read, and the Azure Automation card in each state it
// shows on both paths (against the simulator's Azure Resource Manager).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, sim, faults, state, signIn, makeAndSave, SIM_URL } from './lib/onboard.mjs';
import { QUICK, findAccounts, choose, applied, testRun } from './lib/automation.mjs';
import { instrument, audit, announced, clearAnnounced, tabTo, sweep } from './lib/a11y.mjs';

const DIR = join(tmpdir(), `unattended-a11y-${process.pid}`);
const UAMI_RESOURCE = '/subscriptions/0a1b2c3d-0000-4000-8000-000000000001/resourcegroups/ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops-runbooks-identity';

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });

/** A fresh context and page with axe and the announcement recorder, at 1280 × 800. */
async function open(options) {
  const opened = await openPage(browser, options);
  await instrument(opened.context);
  await opened.page.setViewportSize({ width: 1280, height: 800 });
  return opened;
}

function report(problems, t) {
  t.diagnostic(`${problems.length} problem(s)`);
  assert.equal(problems.length, 0, `\n${problems.join('\n')}`);
}

async function clean(seen) {
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), [], 'the page\'s CSP stays enforced and nothing broke it');
}

const activeId = (page) => page.evaluate(() => document.activeElement?.id ?? null);

test('the start screen, a declined consent and a missing config.json', async (t) => {
  const problems = [];
  const { context, page, seen } = await open();
  await page.goto(BASE_URL);
  await page.waitForFunction(() => !document.querySelector('#sign-in')?.disabled);
  // Open everything the start screen folds away: another tenant (with the consent link) and
  // the certificate without signing in.
  await page.locator('details.tenant-choice > summary').click();
  await page.locator('#tenant-choice').fill('fabrikam.onmicrosoft.com');
  await page.locator('details.offline > summary').click();
  await audit(page, 'start', problems);
  t.diagnostic(`start: ${await sweep(page, 'start', problems)} focus stops, each visible`);
  await page.locator('#tenant-choice').fill('not a tenant!');
  await audit(page, 'start: a tenant that cannot be', problems, { widths: [320] });
  await clean(seen);
  await context.close();

  const declined = await open();
  await signIn(declined.page, BASE_URL, 'admin', { action: 'cancel' });
  await declined.page.waitForFunction(() => /declined/.test(document.querySelector('#sign-in-status')?.textContent ?? ''));
  await audit(declined.page, 'sign-in return: consent declined', problems);
  await clean(declined.seen);
  await declined.context.close();

  const missing = await open({ routes: [[(u) => u.pathname.endsWith('/config.json'), (r) => r.fulfill({ status: 404, body: '' })]] });
  await missing.page.goto(BASE_URL);
  await missing.page.locator('#registration-script').waitFor({ timeout: 15000 });
  await audit(missing.page, 'no config.json: the registration script', problems);
  await missing.context.close();
  report(problems, t);
});

test('a whole onboarding by keyboard alone, audited at every screen: tenant, certificate, apply refused, retried, finished', async (t) => {
  await reset('default');
  const problems = [];
  const times = {};
  const started = Date.now();
  const { context, page, seen } = await open();
  // The forge's worker script is fetched once the admin is signed in (a prefetch the key waits
  // for): held back until the progress has been audited, so the audit sees it however fast the
  // key comes.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route(/\/worker-[^/]*\.js$/, async (route) => { await held; await route.continue().catch(() => {}); });
  await page.goto(BASE_URL);
  await page.waitForFunction(() => !document.querySelector('#sign-in')?.disabled);

  // Start: Tab to Sign in and press Enter; on the (simulated) sign-in page, Tab to Accept.
  await tabTo(page, '#sign-in', problems);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(SIM_URL)), page.keyboard.press('Enter')]);
  assert.match(await page.locator('input[name=user]:checked').evaluate((i) => i.parentElement.textContent), /<admin@contoso\.onmicrosoft\.com>/);
  await tabTo(page, '#accept', []);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(BASE_URL)), page.keyboard.press('Enter')]);

  // Sign-in return: the focus is on the tenant's heading.
  await page.locator('#tenant-facts').waitFor({ timeout: 15000 });
  await page.waitForFunction(() => document.activeElement?.id === 'tenant-title');
  assert.match(await page.locator('#tenant-title').textContent(), /Contoso/);
  assert.match(await page.locator('#admin').textContent(), /admin@contoso\.onmicrosoft\.com/);
  times.tenant = await audit(page, 'signed in: tenant card and plan (new app)', problems);

  // The app's name, typed.
  await tabTo(page, '#app-name', problems);
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Keyboard app');
  assert.equal(await page.locator('#app-name').inputValue(), 'Keyboard app');
  assert.match(await page.locator('#diff').textContent(), /Create the app registration "Keyboard app"/);

  // Make the certificate (RSA 2048, the default): progress is announced, nothing moves under
  // reduced motion, and the focus then lands on Save PFX.
  await tabTo(page, '#generate', problems);
  await clearAnnounced(page);
  await page.keyboard.press('Enter');
  await page.locator('#generate-progress').waitFor();
  times.progressAudit = await audit(page, 'certificate: making the key', problems, { widths: [320, 1280] });
  assert.equal(await page.locator('#generate-progress').count(), 1, 'the progress was audited');
  // The fieldset and the button are disabled meanwhile: the focus is on Cancel. Cancelled,
  // it goes back to the button, which makes the key for real this time.
  assert.equal(await activeId(page), 'cancel-generate');
  await page.keyboard.press('Enter');
  await page.locator('#generate-error').waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'generate');
  release();
  const made = Date.now();
  await page.keyboard.press('Enter');
  await page.locator('#credential').waitFor({ timeout: 120000 });
  times.certificate = (Date.now() - made) / 1000;
  t.diagnostic(`RSA 2048 certificate made in ${times.certificate.toFixed(1)} s`);
  await page.waitForFunction(() => document.activeElement?.id === 'save-pfx');
  const keyNews = await announced(page);
  assert.ok(keyNews.some((a) => /Making the key|prime/i.test(a)), `key generation progress announced: ${JSON.stringify(keyNews)}`);
  assert.ok(keyNews.some((a) => /Certificate made/i.test(a)), `the made certificate announced: ${JSON.stringify(keyNews)}`);
  times.made = await audit(page, 'certificate made', problems);

  // Save the PFX by keyboard (the download itself is Playwright's), then prove it: the file
  // picker opens from the keyboard and Playwright answers it.
  const password = (await page.locator('#pfx-password').textContent()).trim();
  const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
  const pfx = join(DIR, 'keyboard.pfx');
  await download.saveAs(pfx);
  await tabTo(page, '#check-pfx-file', problems);
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  await chooser.setFiles(pfx);
  await tabTo(page, '#check-pfx-password', problems);
  await page.keyboard.type(password);
  await tabTo(page, '#check-pfx', problems);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#check-pfx-status')?.dataset.state === 'proven', null, { timeout: 60000 });
  await page.waitForFunction(() => document.activeElement?.id === 'check-pfx-status');

  // Apply, with Graph slowed down and the role assignment refused (as if the admin lost
  // Privileged Role Administrator): each step is announced, the stop too, and the focus goes
  // to the message.
  await tabTo(page, '#apply-button', problems);
  await faults({ latencyMs: 400, denyPathContains: '/roleManagement' });
  await clearAnnounced(page);
  await page.keyboard.press('Enter');
  await page.locator('#steps li').first().waitFor();
  times.applyAudit = await audit(page, 'apply in progress', problems, { widths: [320, 1280] });
  assert.equal(await page.locator('#apply-error, #finished').count(), 0, 'the run was audited while running');
  await page.locator('#apply-error').waitFor({ timeout: 60000 });
  await page.waitForFunction(() => document.activeElement?.id === 'apply-error');
  await faults({});
  times.refused = await audit(page, 'apply: a refused step', problems);

  // Retry from the keyboard: back to the button (now Retry), Enter, and the finished heading
  // takes the focus.
  await tabTo(page, '#apply-button', problems, { back: true });
  assert.equal((await page.locator('#apply-button').textContent()).trim(), 'Retry');
  await page.keyboard.press('Enter');
  await page.locator('#finished').waitFor({ timeout: 60000 });
  await page.waitForFunction(() => document.activeElement?.id === 'finished-title');
  const news = await announced(page);
  for (const step of [/App registration and certificate: (working|done)/, /Service principal: (working|done)/,
    /Application permissions: (working|done)/, /Entra roles: working/, /Entra roles: (?!working|done)/,
    /Entra roles: done/]) {
    assert.ok(news.some((a) => step.test(a)), `${step} announced: ${JSON.stringify(news)}`);
  }
  times.finished = await audit(page, 'finished', problems);

  // The last screen's buttons are reached and pressed by keyboard too.
  await tabTo(page, '#save-log', problems);
  const [log] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
  assert.match(log.suggestedFilename(), /run-log\.json$/);
  const app = (await state()).applications.find((a) => a.displayName === 'Keyboard app');
  assert.ok(app, 'the app was made');
  await clean(seen);
  await context.close();
  t.diagnostic(`seconds: ${JSON.stringify(times)}; whole test ${((Date.now() - started) / 1000).toFixed(1)} s`);
  report(problems, t);
});

test('the plan with every workload, new and existing app, and the inventory tab with its rotate panel', async (t) => {
  await reset('lifecycle');
  const problems = [];
  const { context, page, seen } = await open();
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor({ timeout: 15000 });
  for (const w of ['exchange', 'compliance', 'graph', 'teams', 'sharepoint']) await page.locator(`#workload-${w}`).check();
  await page.click('#preset-reports');
  await page.locator('#graph-search').fill('mail');
  await page.locator('#graph-offers li').first().waitFor();
  await page.check('#sp-selected');
  await page.locator('#sp-site').fill('https://contoso.sharepoint.com/sites/Finance');
  await page.locator('#requests > summary').click();
  await audit(page, 'plan: new app, every workload', problems);
  t.diagnostic(`plan: ${await sweep(page, 'plan: every workload', problems)} focus stops, each visible`);
  await page.check('#exchange-rbac-group');
  await page.selectOption('#role-group', '');
  await audit(page, 'plan: new app, an Exchange role group', problems, { widths: [320, 390] });

  const first = await page.locator('#existing-app option').nth(1).getAttribute('value');
  await page.selectOption('#existing-app', first);
  await page.locator('#diff li.keep').first().waitFor();
  await audit(page, 'plan: existing app, every workload', problems);

  await page.check('#flow-inventory');
  await page.locator('#inventory-summary').waitFor({ timeout: 60000 });
  await audit(page, 'inventory', problems);
  t.diagnostic(`inventory: ${await sweep(page, 'inventory', problems)} focus stops, each visible`);
  await page.locator('button.rotate').first().click();
  await page.locator('#change').waitFor();
  assert.equal(await activeId(page), 'change-title');
  await audit(page, 'inventory: rotate', problems);
  await clean(seen);
  await context.close();
  report(problems, t);
});

test('the managed-identity path: search, not found, found (user-assigned, by resource id), plan, finished', async (t) => {
  await reset('default');
  const problems = [];
  const { context, page, seen } = await open();
  await page.goto(BASE_URL);
  await page.locator('input[name=path]').nth(1).check();
  await signIn(page, BASE_URL, 'admin', { keepPage: true });
  await page.locator('#mi-query').waitFor({ timeout: 15000 });
  await page.waitForFunction(() => document.activeElement?.id === 'tenant-title');
  await audit(page, 'identity: search', problems);

  // Find pressed from the keyboard: the button is disabled while it looks, and the focus comes
  // back to it after.
  await page.locator('#mi-query').fill('11111111-2222-4333-8444-555555555555');
  await tabTo(page, '#mi-search', problems);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#mi-error')?.textContent.length > 0);
  await page.waitForFunction(() => document.activeElement?.id === 'mi-search');
  await audit(page, 'identity: not found', problems, { widths: [320, 390] });

  await page.locator('#mi-query').fill(UAMI_RESOURCE);
  await page.locator('#mi-query').press('Enter');
  await page.locator('#mi-holds').waitFor();
  await page.locator('#mi-requests > summary').click();
  await audit(page, 'identity: found, plan', problems);

  await clearAnnounced(page);
  await page.click('#mi-apply-button');
  await page.locator('#mi-finished').waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.activeElement?.id === 'mi-finished-title');
  const news = await announced(page);
  assert.ok(news.some((a) => /Entra roles: done/.test(a)), `steps announced: ${JSON.stringify(news)}`);
  await audit(page, 'identity: finished', problems);
  await clean(seen);
  await context.close();
  report(problems, t);
});

/** A route handler that holds requests until `release()`, so a passing state can be audited. */
function gate() {
  let release;
  const opened = new Promise((r) => { release = r; });
  return { release, hold: async (route) => { await opened; await route.continue(); } };
}

test('the sign-in being finished, the tenant being read, the tenant that cannot be read: the message, and Retry by keyboard', async (t) => {
  await reset('default');
  const problems = [];
  // The code's redemption and the first Graph batch are held until their screens are audited.
  const redeem = gate();
  const read = gate();
  const { context, page, seen } = await open({ routes: [
    [(u) => u.pathname.endsWith('/oauth2/v2.0/token'), redeem.hold],
    [(u) => u.pathname.endsWith('/$batch'), read.hold],
  ] });
  // Graph refuses the organization's read, the first thing the page asks for after sign-in (an
  // inner request of its first $batch), as it does an account without directory read rights.
  await faults({ denyPathContains: '/organization' });
  try {
    await signIn(page, BASE_URL, 'admin');
    await page.locator('#completing-title').waitFor({ timeout: 30000 });
    await audit(page, 'the sign-in being finished', problems);
    redeem.release();
    await page.locator('#tenant-loading-title').waitFor({ timeout: 30000 });
    await audit(page, 'the tenant being read', problems);
    read.release();
    await page.locator('#tenant-error').waitFor({ timeout: 30000 });
    assert.match(await page.locator('#tenant-error').textContent(), /Insufficient privileges/);
    await audit(page, 'the tenant read refused', problems);
    await page.waitForFunction(() => document.activeElement?.id === 'tenant-error', null, { timeout: 5000 });
  } finally {
    await faults({});
  }
  await tabTo(page, '#tenant-retry', problems);
  await page.keyboard.press('Enter');
  await page.locator('#tenant-facts').waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.activeElement?.id === 'tenant-title');
  await clean(seen);
  await context.close();
  report(problems, t);
});

test('the Azure Automation card on the managed-identity path: consent asked, accounts, plan, a failed import, done, the test run', async (t) => {
  await sim('/_sim/reset', { fixture: 'default', ...QUICK });
  const problems = [];
  const { context, page, seen } = await open();
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor({ timeout: 15000 });
  await page.check('#flow-identity');
  let consent = false;
  await findAccounts(context, page, 'admin', '', {
    atConsent: async (p) => { await audit(p, 'automation: Azure consent asked', problems, { widths: [320, 390, 1280] }); consent = true; },
  });
  assert.ok(consent, 'the card asked for consent to Azure, and that state was audited');
  await audit(page, 'automation: accounts listed', problems, { widths: [320, 390, 1280] });
  await choose(page, 'contoso-reports');
  await audit(page, 'automation: account chosen, plan', problems);

  // The module import fails (as Automation reports a bad module): the reason and Retry.
  await sim('/_sim/faults', { ...QUICK, armModuleFailure: 'Orchestrator.Shared.AsyncModuleImport.ModuleImportException: Cannot import the module of name ExchangeOnlineManagement, as the module structure was invalid.' });
  await page.click('#aa-apply');
  await page.locator('#aa-error', { hasText: 'could not import' }).waitFor({ timeout: 90000 });
  await audit(page, 'automation: a failed module import', problems);
  await sim('/_sim/faults', QUICK);
  await page.click('#aa-apply');
  await applied(page);
  await audit(page, 'automation: applied', problems);
  const run = await testRun(page);
  assert.equal(run.status, 'Completed', run.output);
  await audit(page, 'automation: the test run\'s output', problems);
  await clean(seen);
  await context.close();
  report(problems, t);
});

test('the Azure Automation card on the certificate path\'s finished screen: accounts, the upload opted in, done', async (t) => {
  await sim('/_sim/reset', { fixture: 'default', ...QUICK });
  const problems = [];
  const { context, page, seen } = await open();
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor({ timeout: 15000 });
  await page.locator('#app-name').fill('Audited runbook app');
  const made = await makeAndSave(page, DIR, 'audited-runbook');
  await page.click('#apply-button');
  await page.locator('#finished').waitFor({ timeout: 60000 });
  let consent = false;
  await findAccounts(context, page, 'admin', 'cert-', {
    atConsent: async (p) => { await audit(p, 'finished, automation: Azure consent asked', problems, { widths: [320, 390, 1280] }); consent = true; },
  });
  assert.ok(consent, 'the card asked for consent to Azure, and that state was audited');
  await choose(page, 'contoso-reports', 'cert-');
  await audit(page, 'finished, automation: account chosen, plan', problems);
  await page.check('#cert-aa-upload');
  await page.fill('#cert-aa-password', made.password);
  await page.locator('#cert-aa-plan .diff', { hasText: 'Upload the PFX' }).waitFor({ timeout: 30000 });
  await audit(page, 'finished, automation: the PFX upload opted in', problems);
  await page.click('#cert-aa-apply');
  await applied(page, 'cert-');
  await audit(page, 'finished, automation: applied', problems);
  await clean(seen);
  await context.close();
  report(problems, t);
});
