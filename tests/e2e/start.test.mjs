// The release build in Chromium: the start screen, the page's integrity (CSP, SRI, no third
// party) and the messages for a missing or malformed config.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const isConfig = (url) => url.pathname.endsWith('/config.json');

async function startScreen(page) {
  await page.goto(BASE_URL);
  await page.locator('#title').waitFor({ timeout: 15000 });
}

async function statusOnceLoaded(page) {
  const status = page.locator('#sign-in-status');
  await page.waitForFunction(() => !document.querySelector('#sign-in-status')?.textContent.startsWith('Loading'));
  return status.textContent();
}

test('start screen renders with zero console errors, CSP violations or off-host requests', async () => {
  const { context, page, seen } = await openPage(browser);
  await startScreen(page);
  assert.match(await page.locator('h1').textContent(), /Exchange Online PowerShell/);
  assert.match(await page.locator('.promise').textContent(), /never leave/);
  // The test build points at the simulated tenant: the promise names it, and the badge says so.
  assert.match(await page.locator('.promise').textContent(), /127\.0\.0\.1 \(sign-in\) and 127\.0\.0\.1 \(Microsoft Graph\)/);
  assert.equal(await page.locator('input[name=path]').count(), 3);
  assert.match(await statusOnceLoaded(page), /You will sign in at 127\.0\.0\.1.*Global Administrator/s);
  assert.equal(await page.locator('#sign-in').isEnabled(), true);
  assert.equal(await page.locator('.badge.sandbox').count(), 1, 'simulated tenant: Sandbox badge');
  assert.deepEqual(seen.consoleErrors, []);
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  assert.deepEqual(seen.offHost, []);
  await context.close();
});

test('every script, wasm and stylesheet request carries a matching integrity attribute', async () => {
  const { context, page, seen } = await openPage(browser);
  await startScreen(page);
  await statusOnceLoaded(page);
  assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script');
  const declared = await page.evaluate(() =>
    [...document.querySelectorAll('script[src], link[href]')]
      .filter((e) => e.integrity)
      .map((e) => ({ url: new URL(e.src || e.href, location.href).href, integrity: e.integrity })));
  // Once sign-in is possible the start page fetches the app page's boot module and WebAssembly
  // (which the sign-in's return needs) with the hashes it names: wait for both, then check them.
  const app = await page.evaluate(() => {
    const meta = document.querySelector('meta[name=unattended-app]');
    return ['script', 'wasm'].map((k) => ({
      url: new URL(meta.dataset[k], location.href).href, integrity: meta.dataset[`${k}Integrity`],
    }));
  });
  for (const { url } of app) await page.waitForResponse((r) => r.url() === url, { timeout: 15000 }).catch(() => {});
  declared.push(...app);
  const checked = [];
  for (const response of seen.responses) {
    const url = new URL(response.url());
    if (!/\.(js|wasm|css)$/.test(url.pathname)) continue;
    const entries = declared.filter((d) => d.url === url.href);
    assert.ok(entries.length > 0, `${url.pathname} has no integrity attribute`);
    const body = await response.body();
    const actual = `sha384-${createHash('sha384').update(body).digest('base64')}`;
    for (const e of entries) assert.equal(e.integrity, actual, `${url.pathname}: integrity mismatch`);
    checked.push(url.pathname.split('.').pop());
  }
  for (const { url } of app) {
    assert.ok(seen.responses.some((r) => r.url() === url), `the app's ${url} is fetched ahead of the sign-in's return`);
  }
  for (const kind of ['js', 'wasm', 'css']) assert.ok(checked.includes(kind), `no ${kind} request was checked`);
  // The forge (its worker script and WebAssembly) is not part of the first load: the page
  // fetches it after sign-in or when the certificate panel is opened (forge.test.mjs).
  const forge = seen.responses.map((r) => new URL(r.url()).pathname).filter((p) => /\/(worker-[0-9a-f]+\.js|forge-[0-9a-f]+\.wasm)$/.test(p));
  assert.deepEqual(forge, [], 'the start screen does not load the forge');
  // The boot module hands the WebAssembly fetch its own integrity, so the hash is enforced.
  const boot = seen.responses.find((r) => /\/boot-[0-9a-f]+\.js$/.test(r.url()));
  assert.ok(boot, 'boot module loaded');
  assert.match((await boot.body()).toString(), /fetch\("[^"]+\.wasm", \{ integrity: "sha384-/);
  // It holds the wasm-bindgen glue itself and imports nothing: a module it imported would not be
  // integrity-checked in every engine (WebKit runs a modulepreloaded module unchecked).
  assert.ok(!/^\s*import[\s{*(]/m.test((await boot.body()).toString()), 'the boot module imports nothing');
  // The boot module is the only script the page runs; the app's boot module is only fetched
  // ahead (by fetch(), not run), and the start page's module is the only WebAssembly it runs.
  const scripts = seen.requests.filter((r) => r.resourceType() === 'script').map((r) => new URL(r.url()).pathname);
  assert.deepEqual(scripts.filter((p) => !/\/boot-[0-9a-f]+\.js$/.test(p)), [], 'the boot module is the only script');
  assert.match(
    (await boot.body()).toString(), /fetch\("\.\/start-[0-9a-f]+\.wasm", \{ integrity: "sha384-/,
    'the start page runs its own module, not the app\'s');
  await context.close();
});

for (const [what, pattern, at] of [
  ['WebAssembly', /\/start-[0-9a-f]+\.wasm$/, ''], ['boot module', /\/boot-[0-9a-f]+\.js$/, ''],
  ['WebAssembly on the app page', /\/unattended-[0-9a-f]+_bg\.wasm$/, 'app.html'],
  ['boot module on the app page', /\/app-[0-9a-f]+\.js$/, 'app.html'],
]) {
  test(`a tampered ${what} is refused and the app does not start`, async () => {
    const tamper = async (route) => {
      const response = await route.fetch();
      const body = Buffer.from(await response.body());
      body[body.length - 1] ^= 0x01;
      await route.fulfill({ response, body });
    };
    const { context, page, seen } = await openPage(browser, { routes: [[(u) => pattern.test(u.pathname), tamper]] });
    await page.goto(BASE_URL + at);
    // Wait (bounded) for the browser to report the refusal, then check the app never started.
    for (let i = 0; i < 100 && !seen.consoleErrors.some((e) => /integrity/i.test(e)); i++) await page.waitForTimeout(100);
    assert.ok(seen.consoleErrors.some((e) => /integrity/i.test(e)), `integrity error expected, got ${seen.consoleErrors}`);
    await page.waitForTimeout(500);
    assert.equal(await page.locator('#title').count(), 0, `app must not run with a tampered ${what}`);
    await context.close();
  });
}

test('a sign-in answer this tab waits for goes on to app.html before the start page loads its module', async () => {
  const { context, page, seen } = await openPage(browser);
  // What signin::start leaves behind before it leaves for the identity platform (its content
  // is the app page's business: this one is not a real sign-in, so the app refuses it).
  await context.addInitScript(() => sessionStorage.setItem('unattended.pending-sign-in', '{}'));
  // Which pages instantiated a WebAssembly module (the start page may have begun its preload).
  await context.addInitScript(() => {
    for (const name of ['instantiate', 'instantiateStreaming']) {
      const original = WebAssembly[name];
      WebAssembly[name] = function (...args) {
        sessionStorage.setItem(`ran-wasm:${location.pathname}`, '1');
        return original.apply(this, args);
      };
    }
  });
  await page.goto(`${BASE_URL}#code=abc&state=xyz`);
  await page.waitForURL((u) => u.pathname.endsWith('/app.html'));
  await page.locator('#sign-in-status.error').waitFor({ timeout: 15000 });
  assert.equal(new URL(page.url()).hash, '', 'the app wipes the answer from the address bar');
  const ran = await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('ran-wasm:')).sort());
  assert.deepEqual(ran, ['ran-wasm:/app.html'], 'the start page forwarded before running its module');
  const wasm = seen.requests.map((r) => new URL(r.url()).pathname).filter((p) => p.endsWith('.wasm'));
  assert.ok(wasm.some((p) => /\/unattended-[0-9a-f]+_bg\.wasm$/.test(p)), 'the app page loaded the app');
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  await context.close();
});

test('a popup\'s answer (no sign-in waiting in this tab) stays on the start page and is handed over', async () => {
  const { context, page, seen } = await openPage(browser);
  await page.goto(BASE_URL);
  await page.locator('#title').waitFor();
  const heard = page.evaluate(() => new Promise((resolve) => {
    const channel = new BroadcastChannel('unattended.sign-in.xyz');
    channel.onmessage = (e) => resolve(e.data);
  }));
  const popup = await context.newPage();
  popup.on('request', (r) => seen.requests.push(r));
  await popup.goto(`${BASE_URL}#code=abc&state=xyz`);
  await popup.locator('#relayed').waitFor({ timeout: 15000 });
  assert.ok(!popup.url().includes('app.html') && !popup.url().includes('#'), `stayed, answer wiped: ${popup.url()}`);
  assert.match(await heard, /code=abc&state=xyz/);
  await context.close();
});

test('without config.json the page explains what to do and keeps sign-in disabled', async () => {
  const notFound = (route) => route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' });
  const { context, page, seen } = await openPage(browser, { routes: [[isConfig, notFound]] });
  await startScreen(page);
  const text = await statusOnceLoaded(page);
  assert.match(text, /no config\.json yet/);
  assert.match(text, /client id of your own Entra app registration/);
  assert.equal(await page.locator('#sign-in').isDisabled(), true);
  // The one-step registration for this very page, in the chosen cloud.
  const script = page.locator('#registration-script');
  assert.ok((await script.textContent()).includes(`"spa":{"redirectUris":["${BASE_URL}"]}`));
  assert.match(await script.textContent(), /oauth2PermissionGrants/);
  await page.selectOption('#registration-cloud', 'gcchigh');
  await page.uncheck('#registration-consent');
  assert.match(await script.textContent(), /az cloud set --name AzureUSGovernment[\s\S]*graph\.microsoft\.us\/v1\.0/);
  assert.doesNotMatch(await script.textContent(), /oauth2PermissionGrants/);
  assert.deepEqual(seen.pageErrors, [], 'no panic');
  assert.deepEqual(await seen.cspViolations(), []);
  await context.close();
});

test('an SPA-fallback host answering config.json with index.html counts as missing', async () => {
  const html = (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><p>app</p>' });
  const { context, page } = await openPage(browser, { routes: [[isConfig, html]] });
  await startScreen(page);
  assert.match(await statusOnceLoaded(page), /no config\.json yet/);
  await context.close();
});

for (const [body, expected] of [
  ['{"clientId": "abc"', /config\.json is not valid: it is not JSON/],
  ['{"clientId":"not-a-guid","redirectUri":"http://127.0.0.1/"}', /is not an application \(client\) id/],
  ['{"clientId":"5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10","redirectUri":"https://elsewhere.example/"}', /Sign-in would return to the wrong place/],
  ['{"clientId":"5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10","redirectUri":"http://127.0.0.1/","authority":"http://login.example/organizations"}', /uses plain http/],
]) {
  test(`a bad config.json gets a readable message: ${expected.source}`, async () => {
    const bad = (route) => route.fulfill({ status: 200, contentType: 'application/json', body });
    const { context, page, seen } = await openPage(browser, { routes: [[isConfig, bad]] });
    await startScreen(page);
    assert.match(await statusOnceLoaded(page), expected);
    assert.equal(await page.locator('#sign-in').isDisabled(), true);
    assert.deepEqual(seen.pageErrors, []);
    await context.close();
  });
}

test('a config.json naming hosts this build may not reach is explained (rebuild), with no Sandbox badge', async () => {
  // The test build was sealed for the simulator's hosts: Microsoft's endpoints are not in its
  // policy, so sign-in would fail with "Failed to fetch"; the page says what to rebuild instead.
  const microsoft = (route) => route.fulfill({ status: 200, contentType: 'application/json',
    body: JSON.stringify({ clientId: '5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10', redirectUri: BASE_URL }) });
  const { context, page, seen } = await openPage(browser, { routes: [[isConfig, microsoft]] });
  await startScreen(page);
  assert.match(await statusOnceLoaded(page),
    /may only connect to the hosts it was built for.*https:\/\/login\.microsoftonline\.com and https:\/\/graph\.microsoft\.com.*cargo xtask build --config config\.json/s);
  assert.equal(await page.locator('#sign-in').isDisabled(), true);
  assert.deepEqual(await seen.cspViolations(), [], 'nothing was even tried');
  assert.match(await page.locator('.promise').textContent(), /login\.microsoftonline\.com.*graph\.microsoft\.com/s);
  assert.equal(await page.locator('.badge.sandbox').count(), 0);
  await context.close();
});

test('the two paths are operable by keyboard and the page fits a phone screen', async () => {
  const { context, page } = await openPage(browser);
  await page.setViewportSize({ width: 360, height: 740 });
  await startScreen(page);
  await page.locator('input[name=path]').first().focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.locator('input[name=path]').nth(1).isChecked(), true);
  assert.match(await page.locator('label.path.selected').textContent(), /Managed identity/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px on a phone`);
  await context.close();
});

test('the local server sends the headers the README asks static hosts to send', async () => {
  const { context, page } = await openPage(browser);
  const response = await page.goto(BASE_URL);
  const h = response.headers();
  assert.match(h['content-security-policy'], /default-src 'none'.*frame-ancestors 'none'/);
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'no-referrer');
  const meta = await page.locator('meta[http-equiv=Content-Security-Policy]').getAttribute('content');
  assert.ok(h['content-security-policy'].startsWith(meta), 'header policy = meta policy + frame-ancestors');
  await context.close();
});
