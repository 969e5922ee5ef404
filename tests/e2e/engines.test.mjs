// The same page in the other engines: Firefox ESR (geckodriver) and WebKitGTK (WebKitWebDriver),
// driven over W3C WebDriver (lib/engines.mjs). In each: the start screen with no console error
// or CSP violation, then a whole onboarding against the simulated tenant: sign-in with PKCE,
// a 2048-bit key, certificate and PFX made in the page's Web Workers, the PFX saved through the
// browser's download and picked back with its password, apply, the final screen; then the
// tenant's state and MSAL for Python (with that PFX) prove the result. Then the same onboarding
// again by keyboard alone, as in Chromium (a11y.test.mjs): real key presses through WebDriver's
// input actions (Tab, Enter, Control+A, typing), every control on the way showing its focus.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { ENGINES, open, missing } from './lib/engines.mjs';
import { reset, state, msalToken, SIM_URL } from './lib/onboard.mjs';
import { tabTo } from './lib/a11y.mjs';

const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:8080/';
const MANAGE_AS_APP = 'dc50a0fb-09a3-484d-be87-e023b12c6440';
const EXCHANGE_ADMIN = '29232cdf-9323-42fd-ade2-1d097af3e4de';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css',
  '.json': 'application/json', '.svg': 'image/svg+xml' };

/**
 * Serves the sealed build (DIST_DIR) on a port of its own, with the last byte of every file whose
 * path matches `tamper` flipped, as a compromised host or CDN would serve it. Counts requests.
 */
function serveTampered(tamper) {
  const dist = process.env.DIST_DIR;
  const hits = {};
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = normalize(join(dist, path.endsWith('/') ? `${path}index.html` : path));
    let body;
    try { body = readFileSync(file); } catch { res.writeHead(404).end(); return; }
    hits[path] = (hits[path] ?? 0) + 1;
    if (tamper?.test(path)) { body = Buffer.from(body); body[body.length - 1] ^= 0x01; }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/`,
    hits,
    close: () => new Promise((r) => server.close(r)),
  })));
}

async function clean(page) {
  // WebDriver cannot intercept requests; the CSP (checked below) already confines the page to
  // 127.0.0.1, and every resource it fetched in this document is on 127.0.0.1 too.
  const hosts = await page.evaluate(() => [...new Set(performance.getEntriesByType('resource').map((e) => new URL(e.name).hostname))]);
  assert.deepEqual(hosts.filter((h) => h !== '127.0.0.1'), [], `${page.engine}: off-host requests`);
  assert.deepEqual(page.seen.consoleErrors, [], `${page.engine}: console errors`);
  assert.deepEqual(page.seen.pageErrors, [], `${page.engine}: uncaught errors`);
  assert.deepEqual(await page.seen.cspViolations(), [], `${page.engine}: CSP violations`);
}

/**
 * The tenant holds exactly what the page said (the app, its one certificate, the service
 * principal with Exchange.ManageAsApp and Exchange Administrator), and the PFX this engine made
 * and saved gets an Exchange token from MSAL for Python.
 */
async function provenInTenant({ appId, name, thumbprint, pfxPath, password }) {
  const tenant = await state();
  const app = tenant.applications.find((a) => a.appId === appId);
  assert.equal(app.displayName, name);
  assert.deepEqual(app.keyCredentials.map((k) => new X509Certificate(Buffer.from(k.key, 'base64')).fingerprint.replaceAll(':', '')),
    [thumbprint]);
  const sp = tenant.servicePrincipals.find((s) => s.appId === appId);
  assert.ok(sp, 'service principal');
  assert.equal(tenant.appRoleAssignments.filter((a) => a.principalId === sp.id && a.appRoleId === MANAGE_AS_APP).length, 1);
  assert.equal(tenant.roleAssignments.filter((r) => r.principalId === sp.id && r.roleDefinitionId === EXCHANGE_ADMIN).length, 1);
  const claims = msalToken({ appId, pfxPath, password });
  assert.deepEqual(claims.roles, ['Exchange.ManageAsApp']);
  assert.deepEqual(claims.wids, [EXCHANGE_ADMIN]);
}

for (const engine of ENGINES) {
  describe(engine, () => {
    let page;
    before(async () => {
      const why = missing(engine);
      if (why) throw new Error(`${engine} cannot run: ${why}`);
      page = await open(engine);
      console.log(`# ${engine}: ${page.version}`);
    });
    after(async () => { await page?.close(); });

    test('the start screen renders, with no console error or CSP violation', async () => {
      await page.goto(BASE_URL);
      await page.waitForSelector('#title');
      // The recorders hear this engine's console errors, uncaught errors and CSP refusals.
      assert.deepEqual(await page.probe(), { console: true, uncaught: true, csp: true });
      await page.goto(BASE_URL);
      await page.waitForSelector('#title');
      assert.match(await page.text('h1'), /Exchange Online PowerShell/);
      assert.match(await page.text('.promise'), /never leave/);
      await page.waitFor(() => !document.querySelector('#sign-in-status')?.textContent.startsWith('Loading'));
      assert.match(await page.text('#sign-in-status'), /You will sign in at 127\.0\.0\.1.*Global Administrator/s);
      assert.equal(await page.enabled('#sign-in'), true);
      assert.equal(await page.evaluate(() => document.querySelectorAll('input[name=path]').length), 3);
      // The one script is the integrity-checked boot module (it holds the wasm-bindgen glue): a
      // module it imported would run unchecked in WebKit, which ignores a modulepreload's integrity.
      // (The app page's boot module is only fetched ahead, by fetch(), not run here.)
      const scripts = await page.evaluate(() => performance.getEntriesByType('resource')
        .filter((e) => e.initiatorType !== 'fetch')
        .map((e) => new URL(e.name).pathname).filter((p) => p.endsWith('.js')));
      assert.equal(scripts.length, 1, String(scripts));
      assert.match(scripts[0], /\/boot-[0-9a-f]+\.js$/);
      await clean(page);
    });

    test('a whole onboarding: sign in, make and save the certificate, pick it back, apply', async () => {
      await reset('default');
      await page.goto(BASE_URL);
      await page.waitFor(() => document.querySelector('#sign-in') && !document.querySelector('#sign-in').disabled);
      await page.click('#sign-in');
      await page.waitFor((sim) => location.href.startsWith(sim), [SIM_URL], { what: 'the sign-in page' });
      const { users } = await state();
      const admin = users.find((u) => u.userPrincipalName === 'admin@contoso.onmicrosoft.com').id;
      await page.check(`input[name=user][value="${admin}"]`);
      await page.click('#accept');
      await page.waitFor((base) => location.href.startsWith(base), [BASE_URL], { what: 'the return to the page' });
      await page.waitForSelector('#tenant-facts');
      assert.equal(await page.text('#initial-domain'), 'contoso.onmicrosoft.com');
      assert.ok(!(await page.url()).includes('#'), 'the code is wiped from the address bar');

      const name = `EXO ${engine}`;
      const subject = `EXO-${engine}`;
      await page.fill('#app-name', name);
      await page.waitFor((n) => document.querySelector('#diff')?.textContent.includes(`Create the app registration "${n}"`), [name]);
      assert.equal(await page.enabled('#apply-button'), false, 'no write before the certificate exists');

      // The key, certificate and PFX, made in the page's workers.
      await page.fill('#make #cert-subject', subject);
      assert.equal(await page.evaluate(() => document.querySelector('#make #cert-size')?.value ?? '2048'), '2048');
      await page.click('#make #generate');
      await page.waitFor(() => document.querySelector('#make #credential')?.dataset.thumbprint, [], { timeout: 180000, what: 'the certificate' });
      assert.equal(await page.attribute('#make #credential', 'data-bits'), '2048');
      const thumbprint = (await page.text('#make #thumbprint')).trim();
      const password = (await page.text('#make #pfx-password')).trim();
      // Made by the integrity-checked worker script, fetched once for the pool.
      const workerFetches = await page.evaluate(() => performance.getEntriesByType('resource')
        .filter((e) => /\/worker-[0-9a-f]+\.js$/.test(e.name)).length);
      assert.equal(workerFetches, 1, 'the forge ran in the page\'s workers');
      // The password goes to the clipboard from the button (a user gesture in every engine).
      await page.click('#make #copy-password');
      await page.waitFor(() => document.querySelector('#make #copy-password')?.textContent === 'Copied', [], { what: 'Copied' });

      // Saved through the browser's own download, then picked back with its password.
      await page.click('#make #save-pfx');
      const pfxPath = await page.downloaded(`${subject}.pfx`);
      await page.click('#make #save-cer');
      const cer = readFileSync(await page.downloaded(`${subject}.cer`));
      assert.equal(new X509Certificate(cer).fingerprint.replaceAll(':', ''), thumbprint, 'Node reads the same certificate');
      await page.pickFile('#make #check-pfx-file', pfxPath);
      await page.fill('#make #check-pfx-password', password);
      await page.waitFor(() => !document.querySelector('#make #check-pfx')?.disabled);
      await page.click('#make #check-pfx');
      await page.waitFor(() => /^(proven|refused)$/.test(document.querySelector('#make #check-pfx-status')?.dataset.state ?? ''),
        [], { timeout: 60000, what: 'the PFX check' });
      assert.equal(await page.attribute('#make #check-pfx-status', 'data-state'), 'proven', await page.text('#make #check-pfx-status'));

      await page.waitFor(() => !document.querySelector('#apply-button')?.disabled, [], { what: 'Apply enabled' });
      await page.click('#apply-button');
      try {
        await page.waitForSelector('#finished', 90000);
      } catch (e) {
        const text = (sel) => page.evaluate((s) => document.querySelector(s)?.textContent ?? '', sel);
        throw new Error(`${e.message}\nsteps: ${await text('#steps')}\nerror: ${await text('#apply-error')}`);
      }
      const appId = (await page.text('#done-app-id')).trim();
      assert.equal((await page.text('#done-thumbprint')).trim(), thumbprint);
      const snippet = await page.text('#snippet-1');
      assert.ok(snippet.includes(`Connect-ExchangeOnline -AppId '${appId}' -Organization 'contoso.onmicrosoft.com' -CertificateThumbprint '${thumbprint}'`), snippet);

      await provenInTenant({ appId, name, thumbprint, pfxPath, password });
      const key = (await state()).applications.find((a) => a.appId === appId).keyCredentials[0].key;
      assert.equal(key, cer.toString('base64'), 'the tenant holds the saved .cer');
      await clean(page);
    });

    test('a whole onboarding by keyboard alone: sign in, name, certificate, save and prove the PFX, apply', async (t) => {
      await reset('default');
      const problems = [];
      await page.goto(BASE_URL);
      await page.waitFor(() => document.querySelector('#sign-in') && !document.querySelector('#sign-in').disabled);

      // Start: Tab to Sign in, Enter; on the simulated sign-in page (admin preselected), Tab to
      // Accept, Enter. That page is the simulator's, not the product's: its focus is not judged.
      await tabTo(page, '#sign-in', problems);
      await page.keyboard.press('Enter');
      await page.waitFor((sim) => location.href.startsWith(sim) && document.readyState === 'complete', [SIM_URL], { what: 'the sign-in page' });
      assert.match(await page.evaluate(() => document.querySelector('input[name=user]:checked')?.parentElement.textContent ?? ''),
        /<admin@contoso\.onmicrosoft\.com>/);
      await tabTo(page, '#accept', []);
      await page.keyboard.press('Enter');
      await page.waitFor((base) => location.href.startsWith(base), [BASE_URL], { what: 'the return to the page' });

      // Back from the sign-in, the focus is on the tenant's heading; the name is typed.
      await page.waitForSelector('#tenant-facts');
      await page.waitFor(() => document.activeElement?.id === 'tenant-title', [], { what: 'the focus on the tenant heading' });
      const name = `Keyboard ${engine}`;
      const subject = `EXO-keyboard-${engine}`;
      await tabTo(page, '#app-name', problems);
      await page.keyboard.press('Control+A');
      await page.keyboard.type(name);
      assert.equal(await page.evaluate(() => document.querySelector('#app-name').value), name);
      await page.waitFor((n) => document.querySelector('#diff')?.textContent.includes(`Create the app registration "${n}"`), [name]);

      // The certificate's subject typed, the key made with Enter; the focus then lands on Save PFX.
      await tabTo(page, '#make #cert-subject', problems);
      await page.keyboard.press('Control+A');
      await page.keyboard.type(subject);
      await tabTo(page, '#make #generate', problems);
      await page.keyboard.press('Enter');
      await page.waitFor(() => document.querySelector('#make #credential')?.dataset.thumbprint, [], { timeout: 180000, what: 'the certificate' });
      await page.waitFor(() => document.activeElement?.id === 'save-pfx', [], { what: 'the focus on Save PFX' });
      const thumbprint = (await page.text('#make #thumbprint')).trim();
      const password = (await page.text('#make #pfx-password')).trim();

      // Enter on Save PFX: the browser's own download. Then the check: Tab to the file input
      // and choose the saved file there. The native file dialog that Space or Enter opens is
      // outside the page and outside WebDriver's reach; Element Send Keys with a path to the
      // focused file input is WebDriver's standard way to choose a file
      // (https://www.w3.org/TR/webdriver2/#element-send-keys).
      await page.keyboard.press('Enter');
      const pfxPath = await page.downloaded(`${subject}.pfx`);
      await tabTo(page, '#make #check-pfx-file', problems);
      await page.pickFileInFocused(pfxPath);
      await tabTo(page, '#make #check-pfx-password', problems);
      await page.keyboard.type(password);
      await tabTo(page, '#make #check-pfx', problems);
      await page.keyboard.press('Enter');
      await page.waitFor(() => /^(proven|refused)$/.test(document.querySelector('#make #check-pfx-status')?.dataset.state ?? ''),
        [], { timeout: 60000, what: 'the PFX check' });
      assert.equal(await page.attribute('#make #check-pfx-status', 'data-state'), 'proven', await page.text('#make #check-pfx-status'));
      await page.waitFor(() => document.activeElement?.id === 'check-pfx-status', [], { what: 'the focus on the verdict' });

      // Apply with Enter; the finished screen's heading takes the focus.
      await tabTo(page, '#apply-button', problems);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#finished', 90000);
      await page.waitFor(() => document.activeElement?.id === 'finished-title', [], { what: 'the focus on the finished heading' });
      const appId = (await page.text('#done-app-id')).trim();
      assert.equal((await page.text('#done-thumbprint')).trim(), thumbprint);
      await provenInTenant({ appId, name, thumbprint, pfxPath, password });
      await clean(page);
      t.diagnostic(`${engine}: every focus stop on the way visible (${problems.length} problem(s))`);
      assert.deepEqual(problems, []);
    });

    test('a tampered WebAssembly or boot module (which holds the wasm-bindgen glue) is refused: the app does not start', async () => {
      for (const [what, pattern, path] of [['WebAssembly', /\.wasm$/, ''], ['boot module', /\/boot-[0-9a-f]+\.js$/, ''],
        ['nothing (control)', null, ''], ['WebAssembly of the app page', /\/unattended-[0-9a-f]+_bg\.wasm$/, 'app.html'],
        ['boot module of the app page', /\/app-[0-9a-f]+\.js$/, 'app.html'], ['nothing on the app page (control)', null, 'app.html']]) {
        const host = await serveTampered(pattern);
        try {
          await page.goto(host.url + path);
          if (!pattern) {
            await page.waitForSelector('#title');
            continue;
          }
          // Until the tampered file has been fetched, then a moment for the app to (not) start.
          const end = Date.now() + 10000;
          while (!Object.keys(host.hits).some((p) => pattern.test(p)) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
          assert.ok(Object.keys(host.hits).some((p) => pattern.test(p)), `${what} was never requested: ${Object.keys(host.hits)}`);
          await new Promise((r) => setTimeout(r, 1500));
          assert.equal(await page.evaluate(() => document.querySelectorAll('#title').length), 0, `${engine} ran the app with a tampered ${what}`);
        } finally {
          await host.close();
        }
      }
      page.seen.clear();
    });

    test("a tampered forge (worker script or the forge's WebAssembly) is refused: no key is made", async () => {
      for (const [what, pattern] of [['worker script', /\/worker-[0-9a-f]+\.js$/], ["forge's WebAssembly", /\/forge-[0-9a-f]+\.wasm$/]]) {
        const host = await serveTampered(pattern);
        try {
          await page.goto(host.url);
          // The certificate-only panel: opening it fetches the forge, Make asks for it again.
          await page.click('details.offline > summary');
          await page.click('#generate');
          await page.waitForSelector('#generate-error', 60000);
          assert.match(await page.text('#generate-error'), /key-making code .* failed its integrity check.*no key is made with it/s, `${engine}: ${what}`);
          assert.ok(Object.keys(host.hits).some((p) => pattern.test(p)), `${what} was requested: ${Object.keys(host.hits)}`);
          assert.equal(await page.evaluate(() => document.querySelectorAll('#credential').length), 0, `${engine} made a key with a tampered ${what}`);
        } finally {
          await host.close();
        }
      }
      page.seen.clear();
    });
  });
}
