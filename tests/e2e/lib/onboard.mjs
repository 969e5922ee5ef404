// Shared steps of the onboarding tests: the simulated tenant's test endpoints, signing in on its
// page, making and saving the certificate and proving the saved PFX, applying.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export const SIM_URL = process.env.SIM_URL ?? 'http://127.0.0.1:4010';

export async function sim(path, body) {
  const response = await fetch(`${SIM_URL}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const reset = (fixture = 'default') => sim('/_sim/reset', { fixture });
export const faults = (f) => sim('/_sim/faults', f);
export const state = () => sim('/_sim/state');

/** Opens the page and signs in on the simulator's page as `user` (admin, pra, appadmin, user). */
export async function signIn(page, baseUrl, user = 'admin', { action = 'accept', keepPage = false } = {}) {
  if (!keepPage) await page.goto(baseUrl);
  const button = page.locator('#sign-in');
  await button.waitFor();
  await page.waitForFunction(() => !document.querySelector('#sign-in')?.disabled, null, { timeout: 15000 });
  await Promise.all([page.waitForURL((u) => u.href.startsWith(SIM_URL)), button.click()]);
  const { users } = await state();
  const id = users.find((u) => u.userPrincipalName === `${user}@contoso.onmicrosoft.com`).id;
  await page.locator(`input[name=user][value="${id}"]`).check();
  await Promise.all([page.waitForURL((u) => u.href.startsWith(baseUrl)), page.click(`#${action}`)]);
}

/**
 * Makes the certificate in the onboarding section, saves every file and, unless `prove` is
 * false, proves the saved PFX (picks it back with its password): what Apply waits for. With
 * `password`, types that password instead of taking the generated one. Returns what it saved.
 */
export async function makeAndSave(page, dir, name, { password, prove = true } = {}) {
  const section = page.locator('#make');
  await section.locator('#cert-subject').fill(name);
  if (password !== undefined) {
    await section.locator('#pw-own').check();
    await section.locator('#pw-typed').fill(password);
    await section.locator('#pw-confirm').fill(password);
  }
  // Read without waiting: before the first generation there is no #credential, and a locator
  // would wait its whole timeout for it.
  const before = await page.evaluate(() => document.querySelector('#make #credential')?.dataset.thumbprint ?? null);
  await section.locator('#generate').click();
  await page.waitForFunction((prev) => {
    const c = document.querySelector('#make #credential');
    return c && c.dataset.thumbprint !== prev;
  }, before, { timeout: 120000 });
  const shown = (await section.locator('#pfx-password').textContent()).trim();
  const files = {};
  for (const [id, ext] of [['#save-pfx', 'pfx'], ['#save-cer', 'cer'], ['#save-pem', 'pem'], ['#save-key', 'key.pem']]) {
    const [download] = await Promise.all([page.waitForEvent('download'), section.locator(id).click()]);
    const path = join(dir, `${name}.${ext}`);
    await download.saveAs(path);
    files[ext] = readFileSync(path);
    files[`${ext}Path`] = path;
  }
  const made = { password: shown, files, thumbprint: (await section.locator('#thumbprint').textContent()).trim() };
  if (prove) {
    const status = await checkSavedPfx(page, files.pfxPath, shown);
    if (status.state !== 'proven') throw new Error(`the saved PFX was not proven: ${status.text}`);
  }
  return made;
}

/**
 * Picks `path` back in the certificate panel's check, types `password`, presses Check and
 * waits for the verdict: `{ state: 'proven' | 'refused', text }`.
 */
export async function checkSavedPfx(page, path, password) {
  const check = page.locator('#check-pfx-section');
  await check.locator('#check-pfx-file').setInputFiles(path);
  await check.locator('#check-pfx-password').fill(password);
  await check.locator('#check-pfx').click();
  await page.waitForFunction(() => /^(proven|refused)$/.test(
    document.querySelector('#check-pfx-status')?.dataset.state ?? ''), null, { timeout: 60000 });
  const status = check.locator('#check-pfx-status');
  return { state: await status.getAttribute('data-state'), text: (await status.textContent()).trim() };
}

/** Asks MSAL for Python, with the PFX, for an Exchange token from the simulator (over HTTPS). */
export function msalToken({ appId, pfxPath, password }) {
  const script = `
import json, sys, msal
base, ca, app_id, pfx, password = sys.argv[1:6]
app = msal.ConfidentialClientApplication(app_id, authority=f"{base}/contoso.onmicrosoft.com", verify=ca,
    instance_discovery=False, client_credential={"private_key_pfx_path": pfx, "passphrase": password})
print(json.dumps(app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])))
`;
  const out = execFileSync(process.env.PYTHON ?? 'python3',
    ['-c', script, process.env.SIM_HTTPS_URL, process.env.SIM_CA, appId, pfxPath, password],
    { env: { ...process.env, REQUESTS_CA_BUNDLE: process.env.SIM_CA, CURL_CA_BUNDLE: process.env.SIM_CA } });
  const result = JSON.parse(out.toString());
  if (!result.access_token) throw new Error(`MSAL got no token: ${JSON.stringify(result)}`);
  const payload = result.access_token.split('.')[1];
  return JSON.parse(Buffer.from(payload, 'base64url').toString());
}
