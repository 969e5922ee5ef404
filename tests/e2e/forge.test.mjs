// The credential made in the browser: generation in Web Workers, downloads, cancellation.
// The saved files go to $BROWSER_ARTEFACTS, where tests/interop checks them with OpenSSL,
// Python cryptography, Node, MSAL and Mono exactly like the natively forged ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';

const ARTEFACTS = process.env.BROWSER_ARTEFACTS ?? join(process.cwd(), 'artifacts');
let browser;
before(async () => { browser = await launch(); mkdirSync(ARTEFACTS, { recursive: true }); });
after(async () => { await browser?.close(); });

const b64url = (buf) => buf.toString('base64url');

async function save(page, button, path) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  await download.saveAs(path);
  return readFileSync(path);
}

// Without signing in, the certificate panel sits in a collapsed section of the start screen.
async function openOffline(page) {
  await page.locator('details.offline > summary').click();
}

async function makeCertificate({ name, flavour, password }) {
  const { context, page, seen } = await openPage(browser);
  await page.goto(BASE_URL);
  await openOffline(page);
  await page.locator('#cert-subject').fill(name);
  if (flavour === 'modern') await page.locator('input[name=flavour]').nth(1).check();
  if (password) {
    await page.locator('#pw-own').check();
    await page.locator('#pw-typed').fill(password);
    await page.locator('#pw-confirm').fill(password);
  }
  await page.click('#generate');
  await page.locator('#generate-progress').waitFor({ timeout: 10000 });
  const done = page.locator('#credential');
  await done.waitFor({ timeout: 120000 });
  const shownPassword = (await page.locator('#pfx-password').textContent()).trim();
  if (password) assert.equal(shownPassword, password);
  else assert.match(shownPassword, /^[A-HJ-NP-Za-km-z2-9]{6}(-[A-HJ-NP-Za-km-z2-9]{6}){3}$/);

  const pfx = await save(page, '#save-pfx', join(ARTEFACTS, `${name}.pfx`));
  const cer = await save(page, '#save-cer', join(ARTEFACTS, `${name}.cer`));
  const pem = await save(page, '#save-pem', join(ARTEFACTS, `${name}.pem`));
  const key = await save(page, '#save-key', join(ARTEFACTS, `${name}.key.pem`));
  assert.ok(pfx.length > 2000);
  assert.match(pem.toString(), /^-----BEGIN CERTIFICATE-----\n/);
  assert.match(key.toString(), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);

  // Node reads the certificate independently; the page must show the same thumbprint.
  const x509 = new X509Certificate(cer);
  const thumbprint = x509.fingerprint.replaceAll(':', '');
  assert.equal(await page.locator('#thumbprint').textContent(), thumbprint);
  assert.equal(x509.subject, `CN=${name}`);
  const info = {
    subject: name, flavour: await done.getAttribute('data-flavour'), bits: Number(await done.getAttribute('data-bits')),
    thumbprint, serial: x509.serialNumber.toLowerCase(),
    x5t: b64url(createHash('sha1').update(cer).digest()), x5tS256: b64url(createHash('sha256').update(cer).digest()),
    password: shownPassword,
  };
  assert.equal(info.flavour, flavour);
  writeFileSync(join(ARTEFACTS, `${name}.json`), JSON.stringify(info));

  assert.deepEqual(seen.offHost, [], 'generation talks to nobody');
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(seen.consoleErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  const worker = seen.responses.find((r) => /\/worker-[0-9a-f]+\.js$/.test(r.url()));
  assert.ok(worker, 'the forge ran in a worker');
  const forge = page.locator('meta[name=unattended-forge]');
  const body = await worker.body();
  assert.equal(await forge.getAttribute('data-script-integrity'), `sha384-${createHash('sha384').update(body).digest('base64')}`);
  // The forge's own WebAssembly, fetched once with its hash and compiled once for every worker.
  const wasm = seen.responses.filter((r) => /\/forge-[0-9a-f]+\.wasm$/.test(r.url()));
  assert.equal(wasm.length, 1, 'the forge module was fetched once');
  assert.equal(await forge.getAttribute('data-wasm-integrity'), `sha384-${createHash('sha384').update(await wasm[0].body()).digest('base64')}`);
  // The worker script is self-contained (glue + boot, no import), so that hash covers all the
  // JavaScript a worker runs, and it was fetched once: the workers start from the checked bytes.
  assert.ok(!/^\s*import[\s{*]/m.test(body.toString()), 'the worker script imports nothing');
  assert.equal(seen.responses.filter((r) => /\/worker-[0-9a-f]+\.js$/.test(r.url())).length, 1);
  await context.close();
}

test('the page makes a Windows-compatible PFX in workers, with a generated password', async () => {
  await makeCertificate({ name: 'browser-compat', flavour: 'compat' });
});

test('the page makes a modern PFX with a typed Unicode password', async () => {
  await makeCertificate({ name: 'browser-modern', flavour: 'modern', password: 'Brówser-pässwörd ✓' });
});

test('mismatched typed passwords and a bad subject keep Generate disabled with a reason', async () => {
  const { context, page } = await openPage(browser);
  await page.goto(BASE_URL);
  await openOffline(page);
  await page.locator('#pw-own').check();
  await page.locator('#pw-typed').fill('one');
  await page.locator('#pw-confirm').fill('two');
  assert.equal(await page.locator('#generate').isDisabled(), true);
  assert.match(await page.locator('[role=alert]').first().textContent(), /two passwords differ/);
  await page.locator('#pw-confirm').fill('one');
  assert.equal(await page.locator('#generate').isEnabled(), true);
  await page.locator('#cert-subject').fill('bad,name');
  assert.equal(await page.locator('#generate').isDisabled(), true);
  assert.match(await page.locator('[role=alert]').first().textContent(), /cannot be used/);
  await context.close();
});

test('cancel stops every worker and keeps nothing', async () => {
  const { context, page } = await openPage(browser);
  await page.goto(BASE_URL);
  await openOffline(page);
  await page.selectOption('#cert-size', '4096');
  // A 4096-bit search usually takes seconds, but can be lucky: start again if it finished first.
  let cancelled = false;
  for (let attempt = 0; attempt < 5 && !cancelled; attempt++) {
    await page.click('#generate');
    await page.locator('#generate-progress').waitFor();
    await page.waitForFunction(() => /candidates tested|Both primes/.test(document.querySelector('#generate-progress')?.textContent ?? 'done'));
    if (page.workers().length > 0) {
      cancelled = await page.locator('#cancel-generate').click({ timeout: 2000 }).then(() => true, () => false);
    }
  }
  assert.ok(cancelled, 'could cancel a running generation');
  await page.locator('#generate-error').waitFor();
  assert.match(await page.locator('#generate-error').textContent(), /Cancelled: nothing was kept/);
  for (let i = 0; i < 20 && page.workers().length > 0; i++) await page.waitForTimeout(100);
  assert.equal(page.workers().length, 0, 'all workers terminated');
  assert.equal(await page.locator('#credential').count(), 0);
  await context.close();
});

for (const [what, pattern] of [
  ['worker script (the glue and boot code the workers run)', /\/worker-[0-9a-f]+\.js$/],
  ["forge's WebAssembly (the key, certificate and PFX code)", /\/forge-[0-9a-f]+\.wasm$/],
]) {
  test(`a tampered ${what} is refused: no worker starts and no key is made`, async () => {
    const tamper = async (route) => {
      const response = await route.fetch();
      const body = Buffer.from(await response.body());
      body[body.length - 2] ^= 0x01;
      await route.fulfill({ response, body });
    };
    const { context, page, seen } = await openPage(browser, { routes: [[(u) => pattern.test(u.pathname), tamper]] });
    await page.goto(BASE_URL);
    await openOffline(page);
    await page.click('#generate');
    const error = page.locator('#generate-error');
    await error.waitFor({ timeout: 30000 });
    assert.match(await error.textContent(), /key-making code .* failed its integrity check.*no key is made with it/s);
    assert.equal(page.workers().length, 0, 'no worker runs tampered code');
    assert.equal(await page.locator('#credential').count(), 0);
    assert.ok(seen.consoleErrors.some((e) => /integrity/i.test(e)), `the browser reports the integrity failure: ${seen.consoleErrors}`);
    await context.close();
  });
}

test('the workers start from blob: URLs and the CSP allows blob: for workers only', async () => {
  const { context, page } = await openPage(browser);
  const response = await page.goto(BASE_URL);
  const csp = response.headers()['content-security-policy'];
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(directives['worker-src'], ['blob:']);
  assert.deepEqual(directives['script-src'], ["'self'", "'wasm-unsafe-eval'"]);
  await openOffline(page);
  await page.selectOption('#cert-size', '4096');
  await page.click('#generate');
  await page.waitForFunction(() => /candidates tested|Both primes/.test(document.querySelector('#generate-progress')?.textContent ?? 'done'));
  const urls = page.workers().map((w) => w.url());
  assert.ok(urls.length > 0 || (await page.locator('#credential').count()) === 1, 'workers ran');
  for (const url of urls) assert.match(url, /^blob:http:\/\/127\.0\.0\.1:\d+\//);
  await context.close();
});
