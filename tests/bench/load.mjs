// The first load and the whole flow, in bytes on the wire and in time (run by `cargo xtask bench
// load`): the sealed build served with gzip and with brotli (what static hosts send), in Debian's
// Chromium. Prints figures; asserts nothing (timings are never test assertions).
//
// - Transfer sizes: every file the browser fetched, as the server encoded it (Resource Timing's
//   encodedBodySize, cross-checked against the bytes this server sent), for the first load (up
//   to a usable start screen: Sign in enabled, which needs the page's code and config.json) and
//   for the whole flow (then the certificate made: the forge's worker script and WebAssembly).
// - Time to a usable start screen: from navigation start to Sign in enabled, on this machine's
//   loopback and under an emulated 10 Mbit/s, 40 ms network (DevTools' network conditions), with
//   an empty cache each time; median of several loads.
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
    res.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream',
      'content-encoding': encoding === 'br' ? 'br' : 'gzip', 'cache-control': 'no-store' }).end(file.body);
  });
  server.sent = new Map();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    server.url = `http://127.0.0.1:${server.address().port}/`;
    resolve(server);
  }));
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

/** One cold load; returns ms to a usable start screen. */
async function loadOnce(browser, url, throttled) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  if (throttled) await cdp.send('Network.emulateNetworkConditions', NETWORK);
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('#sign-in')?.disabled === false, null, { timeout: 120000 });
  const ms = await page.evaluate(() => performance.now());
  await context.close();
  return ms;
}

/** Sizes of what one fresh page fetched, first load and then the forge (a certificate made). */
async function flow(browser, server) {
  server.sent.clear();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => document.querySelector('#sign-in')?.disabled === false, null, { timeout: 60000 });
  const sizes = () => page.evaluate(() => [
    ...performance.getEntriesByType('navigation').map((e) => ({ name: 'index.html', bytes: e.encodedBodySize })),
    ...performance.getEntriesByType('resource').map((e) => ({ name: new URL(e.name).pathname.slice(1), bytes: e.encodedBodySize })),
  ]);
  const first = await sizes();
  const firstSent = new Map(server.sent);
  await page.locator('details.offline > summary').click();
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelector('#credential')?.dataset.thumbprint, null, { timeout: 300000 });
  const all = await sizes();
  await context.close();
  return { first, all, firstSent, allSent: new Map(server.sent) };
}

const browser = await launch();
console.log(`Chromium ${browser.version()}; the sealed build in ${DIST}${quick ? ' (quick run)' : ''}\n`);
const summary = {};
for (const encoding of ['gzip', 'br']) {
  const server = await serve(encoding);
  const { first, all, firstSent, allSent } = await flow(browser, server);
  const total = (list) => list.reduce((sum, e) => sum + e.bytes, 0);
  const raw = (sent) => [...sent.values()].reduce((sum, f) => sum + f.raw, 0);
  const wire = (sent) => [...sent.values()].reduce((sum, f) => sum + f.body.length, 0);
  console.log(`Served with ${encoding}:`);
  console.log(`  first load (to a usable start screen): ${kb(total(first))} on the wire (${kb(raw(firstSent))} uncompressed; the server sent ${kb(wire(firstSent))})`);
  for (const e of first) console.log(`    ${e.name.padEnd(44)} ${kb(e.bytes).padStart(10)}`);
  const later = all.filter((e) => !first.some((f) => f.name === e.name));
  console.log(`  whole flow (the certificate made as well): ${kb(total(all))} (${kb(raw(allSent))} uncompressed); fetched for the forge only when needed:`);
  for (const e of later) console.log(`    ${e.name.padEnd(44)} ${kb(e.bytes).padStart(10)}`);
  const fast = [], slow = [];
  for (let i = 0; i < LOADS; i++) {
    fast.push(await loadOnce(browser, server.url, false));
    slow.push(await loadOnce(browser, server.url, true));
  }
  console.log(`  time to a usable start screen, empty cache, n=${LOADS}: loopback median ${median(fast).toFixed(0)} ms (min ${Math.min(...fast).toFixed(0)}, max ${Math.max(...fast).toFixed(0)}); ` +
    `10 Mbit/s + 40 ms median ${median(slow).toFixed(0)} ms (min ${Math.min(...slow).toFixed(0)}, max ${Math.max(...slow).toFixed(0)})\n`);
  summary[encoding] = { firstLoadBytes: total(first), wholeFlowBytes: total(all), startScreenMs: median(fast), startScreenThrottledMs: median(slow) };
  server.close();
}
await browser.close();
console.log(JSON.stringify(summary));
