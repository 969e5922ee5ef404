// Steps of the Azure Automation card (src/ui/automation.rs) against the simulated tenant's Azure
// Resource Manager, shared by automation.test.mjs and the accessibility audits. `p` is the card's
// id prefix: '' on the managed-identity path, 'cert-' on the certificate path's last screen.
import assert from 'node:assert/strict';
import { state } from './onboard.mjs';

// Azure's long operations last a simulated second each: the page still follows every state.
export const QUICK = { armModuleImportSecs: 1, armJobSecs: 1, armPublishSecs: 1 };

/**
 * Presses Find in the card and, when asked, consents in the popup. `atConsent(page)` runs
 * while the card asks for consent (the accessibility audits look at that state).
 */
export async function findAccounts(context, page, user, p = '', { atConsent } = {}) {
  await page.click(`#${p}aa-find`);
  await page.waitForFunction((p) => document.querySelector(`#${p}aa-consent`) || document.querySelector(`#${p}aa-accounts li`), p, { timeout: 30000 });
  if (await page.locator(`#${p}aa-consent`).count()) {
    await atConsent?.(page);
    const [popup] = await Promise.all([context.waitForEvent('page'), page.click(`#${p}aa-consent`)]);
    await popup.waitForLoadState();
    assert.match(new URL(popup.url()).searchParams.get('scope'), /https:\/\/management\.azure\.com\/user_impersonation/);
    const { users } = await state();
    const id = users.find((u) => u.userPrincipalName === `${user}@contoso.onmicrosoft.com`).id;
    await popup.locator(`input[name=user][value="${id}"]`).check();
    await Promise.all([popup.waitForEvent('close'), popup.click('#accept')]);
  }
  await page.locator(`#${p}aa-accounts li`).first().waitFor({ timeout: 30000 });
}

/** Chooses the account `name` and waits for its plan. */
export async function choose(page, name, p = '') {
  await page.locator(`#${p}aa-accounts input[value$="/automationAccounts/${name}"]`).check();
  await page.locator(`#${p}aa-apply`).waitFor();
  await page.waitForFunction((p) => document.querySelector(`#${p}aa-plan .diff`), p, { timeout: 30000 })
    .catch(async (e) => { throw new Error(`${e.message}\nplan: ${await page.locator(`#${p}aa-plan`).textContent()}`); });
}

/** Waits for the card's run to be done; on a timeout, says where the steps stood. */
export async function applied(page, p = '', timeout = 120000) {
  try {
    await page.locator(`#${p}aa-done`).waitFor({ timeout });
  } catch (e) {
    const text = async (sel) => (await page.locator(sel).first().textContent({ timeout: 1000 }).catch(() => ''))?.trim();
    throw new Error(`${e.message}\nsteps: ${await text(`#${p}aa-steps`)}\nerror: ${await text(`#${p}aa-error`)}`);
  }
}

/** Starts the runbook once and waits for the job's end: its status and output. */
export async function testRun(page, p = '') {
  await page.click(`#${p}aa-test`);
  const result = page.locator(`#${p}aa-test-result`);
  await result.waitFor({ timeout: 120000 });
  return { status: await result.getAttribute('data-status'), output: await page.locator(`#${p}aa-output`).textContent().catch(() => '') };
}
