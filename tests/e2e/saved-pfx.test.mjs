// The gate before the first write: Apply opens only when the saved PFX is proven, i.e. picked
// back with its password and checked in the page (MAC, key bag, same certificate, its key).
// Another PFX, a wrong password, another file and a truncated PFX are refused with what to do,
// and Apply stays disabled; nothing of the file or the password leaves the browser.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { reset, signIn, makeAndSave, checkSavedPfx } from './lib/onboard.mjs';

const DIR = join(tmpdir(), `unattended-saved-pfx-${process.pid}`);
const PASSWORD = 'Same-password-for-both ✓';

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });
beforeEach(async () => { await reset('default'); });

const applyDisabled = (page) => page.locator('#apply-button').isDisabled();

test('only the PFX of this certificate, with its password, opens the gate', async () => {
  const { context, page, seen } = await openPage(browser);
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor({ timeout: 15000 });
  await page.locator('#app-name').fill('EXO gate');

  // An earlier certificate's PFX, same password: a file the admin could easily pick by mistake.
  const earlier = await makeAndSave(page, DIR, 'gate-earlier', { password: PASSWORD, prove: false });
  const current = await makeAndSave(page, DIR, 'gate-current', { password: PASSWORD, prove: false });
  assert.notEqual(earlier.thumbprint, current.thumbprint);
  assert.equal(await applyDisabled(page), true, 'saving (a click) is not proof');
  assert.match(await page.locator('#check-pfx-status').textContent(), /Not checked yet/);

  const refusals = [
    ['another PFX', earlier.files.pfxPath, PASSWORD,
      new RegExp(`another certificate \\(thumbprint ${earlier.thumbprint}\\)`)],
    ['a wrong password', current.files.pfxPath, `${PASSWORD}!`, /password does not open this PFX/],
    ['the .cer instead of the .pfx', current.files.cerPath, PASSWORD, /not a PFX/],
  ];
  const truncated = join(DIR, 'gate-current-truncated.pfx');
  writeFileSync(truncated, readFileSync(current.files.pfxPath).subarray(0, 1000));
  refusals.push(['a truncated PFX', truncated, PASSWORD, /damaged or incomplete/]);
  for (const [what, path, password, message] of refusals) {
    const status = await checkSavedPfx(page, path, password);
    assert.equal(status.state, 'refused', what);
    assert.match(status.text, message, what);
    assert.equal(await applyDisabled(page), true, `Apply stays disabled after ${what}`);
    assert.match(await page.locator('#apply-gate').textContent(), /PFX/, what);
    // The fields are emptied after every check: nothing lingers in the page.
    assert.equal(await page.locator('#check-pfx-password').inputValue(), '', what);
    assert.equal(await page.locator('#check-pfx-file').inputValue(), '', what);
  }

  const proven = await checkSavedPfx(page, current.files.pfxPath, PASSWORD);
  assert.equal(proven.state, 'proven', proven.text);
  assert.ok(proven.text.includes(current.thumbprint), proven.text);
  assert.equal(await applyDisabled(page), false, 'the proven PFX opens the gate');
  assert.match(await page.locator('#apply-gate').textContent(), /Ready to apply/);

  // A new certificate needs its own proof: the gate closes again.
  await makeAndSave(page, DIR, 'gate-remade', { password: PASSWORD, prove: false });
  assert.equal(await applyDisabled(page), true, 'a new certificate closes the gate');

  // The file and the password were checked in the page: no request carried either.
  const pfxB64 = readFileSync(current.files.pfxPath).toString('base64');
  for (const r of seen.requests) {
    const text = `${r.url()} ${r.postData() ?? ''}`;
    assert.ok(!text.includes(PASSWORD) && !text.includes(encodeURIComponent(PASSWORD)), `password in ${r.url()}`);
    assert.ok(!text.includes(pfxB64.slice(0, 64)), `PFX in ${r.url()}`);
  }
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(seen.consoleErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  assert.deepEqual(seen.offHost, []);
  await context.close();
});

test('the check works in the offline certificate panel too, for both flavours', async () => {
  const { context, page, seen } = await openPage(browser);
  await page.goto(BASE_URL);
  await page.locator('details.offline > summary').click();
  for (const flavour of ['compat', 'modern']) {
    if (flavour === 'modern') await page.locator('input[name=flavour]').nth(1).check();
    const before = await page.evaluate(() => document.querySelector('#credential')?.dataset.thumbprint ?? null);
    await page.click('#generate');
    await page.waitForFunction((prev) => {
      const c = document.querySelector('#credential');
      return c && c.dataset.thumbprint !== prev;
    }, before, { timeout: 120000 });
    assert.equal(await page.locator('#credential').getAttribute('data-flavour'), flavour);
    const password = (await page.locator('#pfx-password').textContent()).trim();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-pfx')]);
    const path = join(DIR, `offline-${flavour}.pfx`);
    await download.saveAs(path);
    const status = await checkSavedPfx(page, path, password);
    assert.equal(status.state, 'proven', `${flavour}: ${status.text}`);
  }
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(seen.consoleErrors, []);
  await context.close();
});
