// The first load and the whole flow, in bytes on the wire and in time (run by `cargo xtask bench
// load`): the sealed build served with gzip and with brotli (what static hosts send), in Debian's
// Chromium. Prints figures; asserts nothing (timings are never test assertions).
//
// - Transfer sizes: every file the browser fetched, as the server encoded it (Resource Timing's
//   encodedBodySize, cross-checked against the bytes this server sent), for the first load (up
//   to a usable start screen: Sign in enabled, which needs the start page's code and
//   config.json), what the start page then fetches ahead for the sign-in's return (the app
//   page's boot module and WebAssembly), the forge (a certificate made), and the return to the
//   app page itself (what it still fetches, the rest coming from the cache).
// - Time to a usable start screen: from navigation start to Sign in enabled, on this machine's
//   loopback and under an emulated 10 Mbit/s, 40 ms network (DevTools' network conditions), with
//   an empty cache each time; median of several loads. And the time to a usable app page (the
//   page a sign-in returns to), with its files fetched ahead by the start page and without.
//   node ../bench/load.mjs [--quick]     (from tests/e2e; DIST_DIR set by xtask)
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';
import { launch } from '../e2e/lib/browser.mjs';

const quick = process.argv.includes('--quick');
const LOADS = quick ? 3 : 7;
const DIST = process.env.DIST_DIR;
if (!DIST) throw new Error('DIST_DIR is not set: run through `cargo xtask bench load`');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css',
  '.json': 'application/json', '.svg': 'image/svg+xml' };
const NETWORK = { offline: false, latency: 40, downloadThroughput: 10e6 / 8, uploadThroughput: 5e6 / 8 };

/** Serves DIST with one content encoding, every file compressed ahead at the highest level. */
function serve(encoding) {
  const files = new Map();
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const name = path === '/' ? 'index.html' : path.slice(1);
    let file = files.get(name);
    if (!file) {
      let raw;
      try { raw = readFileSync(join(DIST, name)); } catch { res.writeHead(404).end(); return; }
      // The page checks that sign-in returns to where it is served: point config.json here.
      if (name === 'config.json') {
        raw = Buffer.from(JSON.stringify({ ...JSON.parse(raw), redirectUri: server.url }));
      }
      const body = encoding === 'br'
        ? brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })
        : gzipSync(raw, { level: 9 });
      file = { raw: raw.length, body };
      files.set(name, file);
    }
    server.sent.set(name, file);
    // As the README asks of hosts: the pages and config.json revalidated, the content-named
    // files cached for ever.
    const hashed = /-[0-9a-f]{16}(_bg)?\.(js|wasm|css)$/.test(name);
    res.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream',
      'content-encoding': encoding === 'br' ? 'br' : 'gzip',
      'cache-control': hashed ? 'max-age=31536000, immutable' : 'no-cache' }).end(file.body);
  });
  server.sent = new Map();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    server.url = `http://127.0.0.1:${server.address().port}/`;
    resolve(server);
  }));
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

const usable = (page) =>
  page.waitForFunction(() => document.querySelector('#sign-in')?.disabled === false, null, { timeout: 120000 });

/** The app page's files, as the start page names them for its fetch ahead. */
const appFiles = (page) => page.evaluate(() => {
  const meta = document.querySelector('meta[name=unattended-app]');
  return [meta.dataset.script, meta.dataset.wasm].map((u) => new URL(u, location.href).pathname.slice(1));
});

/** Until the start page's fetch ahead of the app's files has finished. */
const fetchedAhead = async (page) => {
  const names = await appFiles(page);
  await page.waitForFunction((names) => names.every((n) =>
    performance.getEntriesByType('resource').some((e) => e.name.endsWith(`/${n}`))), names, { timeout: 120000 });
};

/** One cold load; returns ms to a usable start screen. With `app`, then the app page (where a
 *  sign-in returns) is loaded: after the start page fetched its files ahead (`app: 'ahead'`,
 *  the HTTP cache kept) or with the cache off (`app: 'cold'`); returns ms to it usable. */
async function loadOnce(browser, url, throttled, app) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: app !== 'ahead' });
  if (throttled) await cdp.send('Network.emulateNetworkConditions', NETWORK);
  if (app === 'ahead') {
    await page.goto(url);
    await usable(page);
    await fetchedAhead(page);
  }
  await page.goto(app ? `${url}app.html` : url);
  await usable(page);
  const ms = await page.evaluate(() => performance.now());
  await context.close();
  return ms;
}

/** Sizes of what one fresh page fetched: the first load, the app's files fetched ahead, the
 *  forge (a certificate made), then the return to the app page. */
async function flow(browser, server) {
  server.sent.clear();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url);
  const sizes = (page) => page.evaluate(() => [
    ...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource'),
  ].map((e) => ({
    name: new URL(e.name).pathname.slice(1) || 'index.html', bytes: e.encodedBodySize,
    // Resource Timing: a transferSize of 0 is a response from the browser's cache.
    cached: e.transferSize === 0,
  })));
  await usable(page);
  const ahead = await appFiles(page);
  const first = (await sizes(page)).filter((e) => !ahead.includes(e.name));
  const firstSent = new Map([...server.sent].filter(([name]) => !ahead.includes(name)));
  await fetchedAhead(page);
  await page.locator('details.offline > summary').click();
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelector('#credential')?.dataset.thumbprint, null, { timeout: 300000 });
  const start = await sizes(page);
  // The sign-in's return, as far as the files go: the app page, in this browser's cache.
  const back = await context.newPage();
  await back.goto(`${server.url}app.html`);
  await usable(back);
  const app = (await sizes(back)).filter((e) => !e.cached);
  await context.close();
  return { first, ahead, start, app, firstSent, allSent: new Map(server.sent) };
}

const browser = await launch();
console.log(`Chromium ${browser.version()}; the sealed build in ${DIST}${quick ? ' (quick run)' : ''}\n`);
const summary = {};
for (const encoding of ['gzip', 'br']) {
  const server = await serve(encoding);
  const { first, ahead, start, app, firstSent, allSent } = await flow(browser, server);
  const total = (list) => list.reduce((sum, e) => sum + e.bytes, 0);
  const raw = (sent) => [...sent.values()].reduce((sum, f) => sum + f.raw, 0);
  const wire = (sent) => [...sent.values()].reduce((sum, f) => sum + f.body.length, 0);
  const list = (entries) => { for (const e of entries) console.log(`    ${e.name.padEnd(44)} ${kb(e.bytes).padStart(10)}`); };
  console.log(`Served with ${encoding}:`);
  console.log(`  first load (to a usable start screen): ${kb(total(first))} on the wire (${kb(raw(firstSent))} uncompressed; the server sent ${kb(wire(firstSent))})`);
  list(first);
  const aheadEntries = start.filter((e) => ahead.includes(e.name));
  console.log(`  then fetched ahead for the sign-in's return (the app page's code): ${kb(total(aheadEntries))}`);
  list(aheadEntries);
  const forge = start.filter((e) => !first.some((f) => f.name === e.name) && !ahead.includes(e.name));
  console.log(`  fetched for the forge only when a certificate is made: ${kb(total(forge))}`);
  list(forge);
  console.log(`  the sign-in's return to the app page fetched ${kb(total(app))} (the rest from the cache):`);
  list(app);
  const whole = total(first) + total(aheadEntries) + total(forge) + total(app);
  console.log(`  whole flow (start page, app page, forge): ${kb(whole)} (the server sent ${kb(wire(allSent))} in all, ${kb(raw(allSent))} uncompressed)`);
  const fast = [], slow = [], appCold = [], appAhead = [];
  for (let i = 0; i < LOADS; i++) {
    fast.push(await loadOnce(browser, server.url, false));
    slow.push(await loadOnce(browser, server.url, true));
    appCold.push(await loadOnce(browser, server.url, true, 'cold'));
    appAhead.push(await loadOnce(browser, server.url, true, 'ahead'));
  }
  const stat = (xs) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
  console.log(`  time to a usable start screen, empty cache, n=${LOADS}: loopback ${stat(fast)}; 10 Mbit/s + 40 ms ${stat(slow)}`);
  console.log(`  time to a usable app page (a sign-in's return), 10 Mbit/s + 40 ms, n=${LOADS}: empty cache ${stat(appCold)}; ` +
    `its files fetched ahead by the start page ${stat(appAhead)}\n`);
  summary[encoding] = { firstLoadBytes: total(first), fetchedAheadBytes: total(aheadEntries), forgeBytes: total(forge),
    appReturnBytes: total(app), wholeFlowBytes: whole, startScreenMs: median(fast), startScreenThrottledMs: median(slow),
    appPageThrottledColdMs: median(appCold), appPageThrottledAheadMs: median(appAhead) };
  server.close();
}
await browser.close();
console.log(JSON.stringify(summary));
