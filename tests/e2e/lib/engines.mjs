// The other browser engines, driven over W3C WebDriver (Playwright can drive only Chromium's
// stock build here): Debian's Firefox ESR through geckodriver (from crates.io), and WebKitGTK
// through Debian's WebKitWebDriver under a private Xvfb display. `open(engine)` gives the same
// small page API for each, so one scenario runs unchanged in every engine, and records what the
// tests assert on: console errors, uncaught errors and CSP violations, and the saved downloads.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Builder, By, Capabilities, Key } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';
import LogInspector from 'selenium-webdriver/bidi/logInspector.js';
import ScriptManager from 'selenium-webdriver/bidi/scriptManager.js';

export const ENGINES = ['firefox', 'webkit'];

// Playwright's key names (what lib/a11y.mjs presses) as WebDriver's key codes.
const KEYS = { Tab: Key.TAB, Enter: Key.ENTER, Space: Key.SPACE, Escape: Key.ESCAPE, Shift: Key.SHIFT,
  Control: Key.CONTROL, ArrowDown: Key.ARROW_DOWN, ArrowUp: Key.ARROW_UP };

const FIREFOX = '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
const WEBKIT_SHELL = fileURLToPath(new URL('./webkit-shell.py', import.meta.url));

/** A program on PATH, or in cargo's bin folder (where `cargo install geckodriver` puts it). */
function program(name) {
  const dirs = (process.env.PATH ?? '').split(delimiter);
  dirs.push(join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin'));
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

/** A GObject typelib in Debian's per-architecture folder (/usr/lib/<triplet>/girepository-1.0). */
function typelib(name) {
  return readdirSync('/usr/lib').filter((d) => d.endsWith('-linux-gnu'))
    .map((d) => `/usr/lib/${d}/girepository-1.0/${name}.typelib`).find((p) => existsSync(p));
}

/** Why `engine` cannot run on this machine, or null when it can. */
export function missing(engine) {
  const need = engine === 'firefox'
    ? [[FIREFOX, 'apt-get install firefox-esr'], [program('geckodriver'), 'cargo install geckodriver --locked']]
    : [[WEBKIT_DRIVER, 'apt-get install webkit2gtk-driver'], ['/usr/bin/Xvfb', 'apt-get install xvfb'],
      ['/usr/lib/python3/dist-packages/gi/__init__.py', 'apt-get install python3-gi'],
      [typelib('WebKit2-4.1'), 'apt-get install gir1.2-webkit2-4.1']];
  const absent = need.filter(([file]) => !file || !existsSync(file)).map(([, fix]) => fix);
  return absent.length ? `missing: ${absent.join(', ')} (cargo xtask setup installs them)` : null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForHttp(url, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { await fetch(url); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  throw new Error(`${url} did not answer in ${ms} ms`);
}

// Installed before any of the page's own scripts (a BiDi preload script in Firefox): records
// CSP violations, which no console API reports.
const RECORD_CSP = `() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(e.violatedDirective + ' blocked ' + e.blockedURI);
  });
}`;

async function startFirefox(downloads) {
  const options = new firefox.Options()
    .setBinary(FIREFOX)
    .addArguments('-headless')
    .setPreference('browser.download.folderList', 2)
    .setPreference('browser.download.dir', downloads)
    .setPreference('browser.download.useDownloadDir', true)
    .setPreference('browser.download.always_ask_before_handling_new_types', false)
    .setPreference('browser.download.start_downloads_in_tmp_dir', false)
    .setPreference('browser.download.manager.showWhenStarting', false)
    // Firefox opens its downloads panel on every download, and the panel takes the focus from
    // the page (https://support.mozilla.org/kb/manage-downloads-preferences-using-downloads-menu
    // #w_downloads-panel-automatically-opens). A keyboard user closes it with Escape and is back
    // where they were; WebDriver's key input reaches only the page, never Firefox's own panel,
    // so the profile keeps the panel shut (about:config, as that page describes).
    .setPreference('browser.download.alwaysOpenPanel', false)
    .setPreference('pdfjs.disabled', true)
    // No background traffic: updates, telemetry, safe browsing, captive portal, remote settings.
    .setPreference('app.update.enabled', false)
    .setPreference('network.captive-portal-service.enabled', false)
    .setPreference('network.connectivity-service.enabled', false)
    .setPreference('browser.safebrowsing.downloads.enabled', false)
    .setPreference('browser.safebrowsing.malware.enabled', false)
    .setPreference('browser.safebrowsing.phishing.enabled', false)
    .setPreference('datareporting.policy.dataSubmissionEnabled', false)
    .setPreference('toolkit.telemetry.enabled', false)
    .enableBidi();
  const service = new firefox.ServiceBuilder(program('geckodriver')).setStdio('ignore');
  const driver = await new Builder().forBrowser('firefox').setFirefoxOptions(options).setFirefoxService(service).build();
  const seen = { consoleErrors: [], pageErrors: [] };
  const log = await LogInspector(driver);
  await log.onConsoleEntry((entry) => { if (entry.level === 'error') seen.consoleErrors.push(entry.text); });
  await log.onJavascriptException((entry) => seen.pageErrors.push(entry.text));
  const scripts = await ScriptManager([], driver);
  await scripts.addPreloadScript(RECORD_CSP);
  seen.cspViolations = async () => (await driver.executeScript('return window.__cspViolations ?? null')) ?? [];
  seen.clear = () => { seen.consoleErrors.length = 0; seen.pageErrors.length = 0; };
  return { driver, seen, version: `Firefox ${(await driver.getCapabilities()).get('browserVersion')}` };
}

async function startWebKit(downloads, scratch, children) {
  // WebKitGTK needs a display; Xvfb picks a free one and reports it (-displayfd).
  const xvfb = spawn('Xvfb', ['-displayfd', '1', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(xvfb);
  const display = await new Promise((resolve, reject) => {
    xvfb.stdout.once('data', (d) => resolve(`:${String(d).trim()}`));
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited (${code})`)));
  });
  const port = await freePort();
  const driverProcess = spawn(WEBKIT_DRIVER, [`--port=${port}`], {
    env: { ...process.env, DISPLAY: display, HOME: scratch, XDG_RUNTIME_DIR: scratch },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(driverProcess);
  // The shell writes the page's console (errors, uncaught errors, CSP refusals) to its output.
  const seen = { consoleErrors: [], pageErrors: [], csp: [], console: [] };
  let pending = '';
  const read = (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      seen.console.push(line);
      if (/CONSOLE SECURITY ERROR/.test(line)) seen.csp.push(line);
      else if (/CONSOLE JS ERROR/.test(line)) seen.pageErrors.push(line);
      else if (/CONSOLE (\w+ )?ERROR/.test(line)) seen.consoleErrors.push(line);
    }
  };
  driverProcess.stdout.on('data', read);
  driverProcess.stderr.on('data', read);
  await waitForHttp(`http://127.0.0.1:${port}/status`);
  const capabilities = new Capabilities({
    browserName: 'unattended-webkit-shell',
    'webkitgtk:browserOptions': {
      binary: WEBKIT_SHELL,
      args: ['--automation', '--data', join(scratch, 'profile'), '--downloads', downloads],
    },
  });
  const driver = await new Builder().usingServer(`http://127.0.0.1:${port}`).withCapabilities(capabilities).build();
  seen.cspViolations = async () => seen.csp.slice();
  seen.clear = () => { for (const list of [seen.consoleErrors, seen.pageErrors, seen.csp]) list.length = 0; };
  const ua = await driver.executeScript('return navigator.userAgent');
  const version = spawnSync('/usr/bin/dpkg-query', ['-W', '-f', '${Version}', 'libwebkit2gtk-4.1-0']).stdout?.toString();
  return { driver, seen, version: `WebKitGTK ${version || '?'} (${ua})` };
}

/**
 * Starts `engine` ('firefox' or 'webkit') with a fresh profile and download folder. Returns the
 * page API: navigation, waiting, reading, typing, clicking, file picking, downloads, and what
 * the page reported (console errors, uncaught errors, CSP violations).
 */
export async function open(engine) {
  const scratch = mkdtempSync(join(tmpdir(), `unattended-${engine}-`));
  const downloads = join(scratch, 'downloads');
  const children = [];
  for (const dir of [downloads, join(scratch, 'profile')]) mkdirSync(dir, { recursive: true });
  let started;
  try {
    started = engine === 'firefox' ? await startFirefox(downloads) : await startWebKit(downloads, scratch, children);
  } catch (e) {
    for (const c of children.reverse()) c.kill();
    rmSync(scratch, { recursive: true, force: true });
    throw e;
  }
  const { driver, seen, version } = started;
  const find = (css) => driver.findElement(By.css(css));

  /** Polls `fn` (a function run in the page, with `args`) until it returns a truthy value. */
  async function waitFor(fn, args = [], { timeout = 15000, what = String(fn) } = {}) {
    const end = Date.now() + timeout;
    let last;
    while (Date.now() < end) {
      try {
        last = await driver.executeScript(`return (${fn})(...arguments)`, ...args);
        if (last) return last;
      } catch (e) {
        // A navigation under way: the document is being replaced.
        last = e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${engine}: timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
  }

  const page = {
    engine,
    version,
    seen,
    downloads,
    goto: (url) => driver.get(url),
    url: () => driver.getCurrentUrl(),
    evaluate: (fn, ...args) => driver.executeScript(`return (${fn})(...arguments)`, ...args),
    waitFor,
    /** Waits until an element matching `css` is in the document. */
    waitForSelector: (css, timeout = 15000) =>
      waitFor((s) => !!document.querySelector(s), [css], { timeout, what: css }),
    text: async (css) => (await page.waitForSelector(css)) && (await driver.executeScript(
      'return document.querySelector(arguments[0]).textContent', css)),
    attribute: (css, name) => driver.executeScript(
      'return document.querySelector(arguments[0])?.getAttribute(arguments[1]) ?? null', css, name),
    enabled: (css) => driver.executeScript('return !document.querySelector(arguments[0]).disabled', css),
    click: async (css) => { await page.waitForSelector(css); await find(css).click(); },
    fill: async (css, value) => {
      await page.waitForSelector(css);
      const element = await find(css);
      await element.clear();
      await element.sendKeys(value);
    },
    check: async (css) => {
      await page.waitForSelector(css);
      const element = await find(css);
      if (!(await element.isSelected())) await element.click();
    },
    /**
     * Real key presses through WebDriver's input actions, sent to whatever has the focus, with
     * Playwright's names (`Tab`, `Shift+Tab`, `Enter`, `Space`, `Control+A`), so the keyboard
     * helpers of lib/a11y.mjs run unchanged in these engines.
     */
    keyboard: {
      press: async (combo) => {
        const parts = combo.split('+');
        const last = parts.pop();
        const key = KEYS[last] ?? (parts.length ? last.toLowerCase() : last);
        const modifiers = parts.map((m) => KEYS[m]);
        let actions = driver.actions({ async: true });
        for (const m of modifiers) actions = actions.keyDown(m);
        actions = actions.keyDown(key).keyUp(key);
        for (const m of modifiers.reverse()) actions = actions.keyUp(m);
        await actions.perform();
      },
      type: (text) => driver.actions({ async: true }).sendKeys(text).perform(),
    },
    /**
     * Picks `path` in the focused `<input type=file>`: WebDriver's Element Send Keys with a
     * path is the standard's way to choose a file (the native dialog is outside the page and
     * outside WebDriver's reach).
     */
    pickFileInFocused: async (path) => {
      const element = await driver.switchTo().activeElement();
      if ((await element.getAttribute('type')) !== 'file') throw new Error(`${engine}: the focus is not on a file input`);
      await element.sendKeys(path);
    },
    /** Picks `path` in an `<input type=file>`, as the admin would in the file dialog. */
    pickFile: async (css, path) => { await page.waitForSelector(css); await find(css).sendKeys(path); },
    /** Waits for the download named `name` to be complete in the download folder; its path. */
    downloaded: async (name, timeout = 30000) => {
      const path = join(downloads, name);
      const end = Date.now() + timeout;
      while (Date.now() < end) {
        // Firefox writes `name` with a `.part` beside it; WebKit a `.wkdownload` beside it.
        const files = readdirSync(downloads);
        if (files.includes(name) && !files.some((f) => f.startsWith(name) && f !== name) && statSync(path).size > 0) return path;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${engine}: ${name} was not downloaded within ${timeout} ms (folder: ${readdirSync(downloads).join(', ')})`);
    },
    /**
     * Proves the recorders listen in this engine: the page logs an error, throws one and
     * breaks its CSP once, each must be seen; then the records are emptied.
     */
    probe: async () => {
      await driver.executeScript(`
        console.error('unattended-probe-console');
        setTimeout(() => { throw new Error('unattended-probe-uncaught'); });
        const img = document.createElement('img');
        img.src = 'https://probe.invalid/unattended-probe.png';
        document.body.append(img);
        img.remove();`);
      const end = Date.now() + 10000;
      const heard = async () => [
        seen.consoleErrors.some((e) => e.includes('unattended-probe-console')),
        seen.pageErrors.some((e) => e.includes('unattended-probe-uncaught')),
        (await seen.cspViolations()).some((e) => e.includes('probe.invalid')),
      ];
      let got = await heard();
      while (got.includes(false) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        got = await heard();
      }
      seen.clear();
      await driver.executeScript('window.__cspViolations = []');
      return { console: got[0], uncaught: got[1], csp: got[2] };
    },
    close: async () => {
      try { await driver.quit(); } catch { /* the browser is gone already */ }
      for (const c of children.reverse()) c.kill();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
  return page;
}
