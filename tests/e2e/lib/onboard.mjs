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
 * `password`, types that password instead of taking the generated one. `section` and `prefix`
 * name another certificate panel (the inventory's rotation: `#change`, `rotate-`). Returns what
 * it saved.
 */
export async function makeAndSave(page, dir, name, { password, prove = true, section: where = '#make', prefix = '' } = {}) {
  const section = page.locator(where);
  const id = (x) => `#${prefix}${x}`;
  await section.locator(id('cert-subject')).fill(name);
  if (password !== undefined) {
    await section.locator(id('pw-own')).check();
    await section.locator(id('pw-typed')).fill(password);
    await section.locator(id('pw-confirm')).fill(password);
  }
  // Read without waiting: before the first generation there is no #credential, and a locator
  // would wait its whole timeout for it.
  const credential = `${where} ${id('credential')}`;
  const before = await page.evaluate((sel) => document.querySelector(sel)?.dataset.thumbprint ?? null, credential);
  await section.locator(id('generate')).click();
  await page.waitForFunction(([sel, prev]) => {
    const c = document.querySelector(sel);
    return c && c.dataset.thumbprint !== prev;
  }, [credential, before], { timeout: 120000 });
  const shown = (await section.locator(id('pfx-password')).textContent()).trim();
  const files = {};
  for (const [button, ext] of [['save-pfx', 'pfx'], ['save-cer', 'cer'], ['save-pem', 'pem'], ['save-key', 'key.pem']]) {
    const [download] = await Promise.all([page.waitForEvent('download'), section.locator(id(button)).click()]);
    const path = join(dir, `${name}.${ext}`);
    await download.saveAs(path);
    files[ext] = readFileSync(path);
    files[`${ext}Path`] = path;
  }
  const made = { password: shown, files, thumbprint: (await section.locator(id('thumbprint')).textContent()).trim() };
  if (prove) {
    const status = await checkSavedPfx(page, files.pfxPath, shown, { prefix });
    if (status.state !== 'proven') throw new Error(`the saved PFX was not proven: ${status.text}`);
  }
  return made;
}

/**
 * Picks `path` back in the certificate panel's check, types `password`, presses Check and
 * waits for the verdict: `{ state: 'proven' | 'refused', text }`.
 */
export async function checkSavedPfx(page, path, password, { prefix = '' } = {}) {
  const check = page.locator(`#${prefix}check-pfx-section`);
  await check.locator(`#${prefix}check-pfx-file`).setInputFiles(path);
  await check.locator(`#${prefix}check-pfx-password`).fill(password);
  await check.locator(`#${prefix}check-pfx`).click();
  await page.waitForFunction((sel) => /^(proven|refused)$/.test(
    document.querySelector(sel)?.dataset.state ?? ''), `#${prefix}check-pfx-status`, { timeout: 60000 });
  const status = check.locator(`#${prefix}check-pfx-status`);
  return { state: await status.getAttribute('data-state'), text: (await status.textContent()).trim() };
}

/**
 * Asks MSAL for Python for an Exchange token from the simulator (over HTTPS), with a PFX
 * (`pfxPath`, `password`) or a PEM key and its thumbprint (`keyPem`, `thumbprint`); returns
 * MSAL's answer as it is (`access_token`, or `error` and `error_description`).
 */
export function msalResult({ appId, pfxPath, password, keyPem, thumbprint, resource = 'https://outlook.office365.com', tenant = 'contoso.onmicrosoft.com' }) {
  const script = `
import json, sys, msal
base, ca, app_id, pfx, password, key_pem, thumbprint, resource, tenant = sys.argv[1:10]
credential = ({"private_key_pfx_path": pfx, "passphrase": password} if pfx
              else {"private_key": key_pem, "thumbprint": thumbprint})
app = msal.ConfidentialClientApplication(app_id, authority=f"{base}/{tenant}", verify=ca,
    instance_discovery=False, client_credential=credential)
print(json.dumps(app.acquire_token_for_client(scopes=[f"{resource}/.default"])))
`;
  const out = execFileSync(process.env.PYTHON ?? 'python3',
    ['-c', script, process.env.SIM_HTTPS_URL, process.env.SIM_CA, appId, pfxPath ?? '', password ?? '', keyPem ?? '', thumbprint ?? '', resource, tenant],
    { env: { ...process.env, REQUESTS_CA_BUNDLE: process.env.SIM_CA, CURL_CA_BUNDLE: process.env.SIM_CA } });
  return JSON.parse(out.toString());
}

/** `msalResult`, which must bring a token: returns its claims. */
export function msalToken(credential) {
  const result = msalResult(credential);
  if (!result.access_token) throw new Error(`MSAL got no token: ${JSON.stringify(result)}`);
  const payload = result.access_token.split('.')[1];
  return JSON.parse(Buffer.from(payload, 'base64url').toString());
}
