// Shared set-up for the browser tests: Debian's Chromium driven by playwright-core (never a
// downloaded browser), and a page wrapper that records everything the tests assert on.
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:8080/';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

export function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
}

/**
 * Opens a fresh context and page that record console errors, page errors, CSP violations and
 * every request. Requests to anything but 127.0.0.1 are recorded and aborted, so a test can
 * assert that the page never talks to a third party. `routes` maps a URL predicate to a handler
 * for tests that simulate a host's behaviour (missing config, tampered assets).
 */
export async function openPage(browser, { routes = [] } = {}) {
  // The simulator's HTTPS listener (Azure Resource Manager's stand-in) has a self-signed
  // certificate made at start.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const seen = { consoleErrors: [], pageErrors: [], offHost: [], requests: [], responses: [] };
  page.on('console', (m) => { if (m.type() === 'error') seen.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  page.on('request', (r) => seen.requests.push(r));
  page.on('response', (r) => seen.responses.push(r));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== '127.0.0.1') {
      seen.offHost.push(url.href);
      return route.abort();
    }
    for (const [matches, handle] of routes) {
      if (matches(url)) return handle(route);
    }
    return route.continue();
  });
  seen.cspViolations = () => page.evaluate(() => window.__cspViolations);
  return { context, page, seen };
}
