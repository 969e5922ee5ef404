// The release build served under a sub-path, as a GitHub Pages project site serves it
// (https://user.github.io/repo/): `cargo xtask` serves the same sealed build again under
// /some/sub/path/ only (404 outside it, no security headers: Pages cannot send any), with
// config.json's redirectUri and a simulated tenant's SPA redirect URI set to that address.
// Start screen, integrity, the forge's workers, sign-in and a whole onboarding work, and the page
// asks its own origin for nothing outside the folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

// The sub-path page has a simulated tenant of its own (its page app registers this address);
// lib/onboard.mjs reads SIM_URL when it is loaded, so point it there first.
process.env.SIM_URL = process.env.SUBPATH_SIM_URL ?? 'http://127.0.0.1:4011';
const { launch, openPage } = await import('./lib/browser.mjs');
const { reset, state, signIn, makeAndSave } = await import('./lib/onboard.mjs');

const BASE = process.env.SUBPATH_BASE_URL ?? 'http://127.0.0.1:8081/some/sub/path/';
const ORIGIN = new URL(BASE).origin;
const FOLDER = new URL(BASE).pathname;
const DIR = join(tmpdir(), `unattended-subpath-${process.pid}`);

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await browser?.close(); });

/** Every request the page made to its own origin, and those outside the folder. */
function ownRequests(seen) {
  const own = seen.requests.map((r) => new URL(r.url())).filter((u) => u.origin === ORIGIN);
  return { own, outside: own.filter((u) => !u.pathname.startsWith(FOLDER)).map((u) => u.href) };
}

test('the host answers only inside the folder, and sends the folder without its slash to it', async () => {
  assert.equal(FOLDER, '/some/sub/path/');
  for (const path of ['/', '/index.html', '/config.json', '/some/sub/', '/some/sub/pathindex.html']) {
    assert.equal((await fetch(`${ORIGIN}${path}`)).status, 404, path);
  }
  const folder = await fetch(`${ORIGIN}/some/sub/path`, { redirect: 'manual' });
  assert.equal(folder.status, 301);
  assert.equal(folder.headers.get('location'), FOLDER);
  const page = await fetch(BASE);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-security-policy'), null, 'a plain host: only the page\'s own policy');
  // Every address either page names is relative to it.
  const app = await fetch(`${BASE}app.html`);
  assert.equal(app.status, 200, 'the app page sits beside the start page');
  for (const html of [await page.text(), await app.text()]) {
    for (const [, url] of html.matchAll(/ (?:src|href|content|data-script|data-wasm)="([^"]*\.(?:js|css|wasm|svg))"/g)) {
      assert.match(url, /^(\.\/)?[\w.-]+$/, `relative: ${url}`);
    }
  }
});

test('under the sub-path: the start screen, every integrity hash, the page\'s CSP, nothing outside the folder', async () => {
  const { context, page, seen } = await openPage(browser);
  const main = await page.goto(BASE);
  assert.equal(main.status(), 200);
  await page.locator('#title').waitFor({ timeout: 15000 });
  assert.match(await page.locator('h1').textContent(), /Exchange Online PowerShell/);
  await page.waitForFunction(() => !document.querySelector('#sign-in-status')?.textContent.startsWith('Loading'));
  assert.match(await page.locator('#sign-in-status').textContent(), /You will sign in at 127\.0\.0\.1/);
  assert.equal(await page.locator('#sign-in').isEnabled(), true, 'config.json found beside the page and accepted');
  assert.equal(await page.locator('.badge.sandbox').count(), 1);

  // Subresource Integrity on every script, stylesheet and the WebAssembly, as at the root.
  const declared = await page.evaluate(() =>
    [...document.querySelectorAll('script[src], link[href]')]
      .filter((e) => e.integrity)
      .map((e) => ({ url: new URL(e.src || e.href, location.href).href, integrity: e.integrity })));
  // The app page's files, fetched ahead with the hashes the start page names for them.
  declared.push(...await page.evaluate(() => {
    const meta = document.querySelector('meta[name=unattended-app]');
    return ['script', 'wasm'].map((k) => ({
      url: new URL(meta.dataset[k], location.href).href, integrity: meta.dataset[`${k}Integrity`],
    }));
  }));
  const checked = [];
  for (const response of seen.responses) {
    const url = new URL(response.url());
    assert.ok(response.status() < 400, `${url.href} answered ${response.status()}`);
    if (!/\.(js|wasm|css)$/.test(url.pathname)) continue;
    const entries = declared.filter((d) => d.url === url.href);
    assert.ok(entries.length > 0, `${url.pathname} has no integrity attribute`);
    const actual = `sha384-${createHash('sha384').update(await response.body()).digest('base64')}`;
    for (const e of entries) assert.equal(e.integrity, actual, `${url.pathname}: integrity mismatch`);
    checked.push(url.pathname.split('.').pop());
  }
  for (const kind of ['js', 'wasm', 'css']) assert.ok(checked.includes(kind), `no ${kind} request was checked`);
  assert.ok(seen.responses.some((r) => r.url() === `${BASE}config.json`), 'config.json read from beside the page');

  assert.deepEqual(seen.consoleErrors, []);
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  assert.deepEqual(seen.offHost, []);
  assert.deepEqual(ownRequests(seen).outside, [], 'nothing requested outside the folder');

  // With no header, the page's meta policy alone still holds: an injected inline script is refused.
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = true';
    document.head.append(s);
  });
  await page.waitForFunction(() => window.__cspViolations.length > 0);
  assert.equal(await page.evaluate(() => window.__inline), undefined, 'inline script blocked');
  assert.match((await seen.cspViolations()).join(), /script-src/);
  await context.close();
});

test('under the sub-path: sign-in, the forge\'s workers and a whole onboarding; nothing outside the folder', async () => {
  await reset('default');
  const { context, page, seen } = await openPage(browser);
  const workers = [];
  page.on('worker', (w) => workers.push(w.url()));
  await signIn(page, BASE, 'admin');
  assert.ok(page.url().startsWith(BASE), `back on the sub-path page: ${page.url()}`);
  await page.locator('#tenant-facts').waitFor({ timeout: 15000 });
  assert.equal(await page.locator('#initial-domain').textContent(), 'contoso.onmicrosoft.com');

  await page.locator('#app-name').fill('EXO subpath');
  const made = await makeAndSave(page, DIR, 'EXO-subpath');
  assert.ok(workers.length > 0 && workers.every((u) => u.startsWith('blob:')), `the forge ran in blob: workers: ${workers}`);
  const script = seen.responses.find((r) => /\/worker-[0-9a-f]+\.js$/.test(r.url()));
  assert.ok(script?.url().startsWith(BASE), `the worker script came from the folder: ${script?.url()}`);

  await page.click('#apply-button');
  await page.locator('#finished').waitFor({ timeout: 60000 });
  const appId = (await page.locator('#done-app-id').textContent()).trim();
  const tenant = await state();
  const app = tenant.applications.find((a) => a.appId === appId);
  assert.equal(app?.displayName, 'EXO subpath');
  assert.deepEqual(app.keyCredentials.map((k) => k.key), [made.files.cer.toString('base64')]);
  assert.ok(tenant.servicePrincipals.some((s) => s.appId === appId), 'service principal');
  assert.equal((await page.locator('#done-thumbprint').textContent()).trim(), made.thumbprint);

  assert.deepEqual(seen.consoleErrors, []);
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(await seen.cspViolations(), []);
  assert.deepEqual(seen.offHost, []);
  const { own, outside } = ownRequests(seen);
  assert.ok(own.length > 5, 'requests were recorded');
  assert.deepEqual(outside, [], 'nothing requested outside the folder');
  const failed = seen.responses.filter((r) => r.status() >= 400 && new URL(r.url()).origin === ORIGIN);
  assert.deepEqual(failed.map((r) => `${r.status()} ${r.url()}`), []);
  await context.close();
});

test('on a host that sends no headers (no frame-ancestors), the page refuses to run inside a frame', async () => {
  const framer = (url) => url.href === `${BASE}framer.html`;
  const serveFramer = (route) => route.fulfill({ status: 200, contentType: 'text/html',
    body: `<!doctype html><title>framer</title><iframe id="victim" src="${BASE}" width="800" height="600"></iframe>` });
  const { context, page } = await openPage(browser, { routes: [[framer, serveFramer]] });
  await page.goto(`${BASE}framer.html`);
  const frame = page.frameLocator('#victim');
  await frame.locator('#framed').waitFor({ timeout: 15000 });
  assert.match(await frame.locator('#framed').textContent(), /does not run inside a frame/);
  assert.equal(await frame.locator('#sign-in').count(), 0, 'nothing to click in the frame');
  // The same page in its own tab runs.
  await page.goto(BASE);
  await page.locator('#sign-in').waitFor();
  await context.close();
});
