// Key generation benchmark (run by `cargo xtask bench`): in one Chromium on one machine, the
// page's own forge (workers, as the page uses them) against WebCrypto generateKey, plus native
// OpenSSL. Prints medians, min, max, the ratio to WebCrypto, and the longest main-thread task
// seen while a 4096-bit key is made. Timings are compared as ratios within this one run.
import { spawnSync } from 'node:child_process';
import { launch, openPage, BASE_URL } from '../e2e/lib/browser.mjs';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [[2048, 5], [4096, 2]] : [[2048, 20], [3072, 10], [4096, 5]];
const WORKER_COUNTS = quick ? [1, 2] : [1, 2, 4];

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, n=${xs.length})`;

async function pageWithWorkers(browser, workers) {
  const { context, page } = await openPage(browser);
  await page.addInitScript((n) => {
    if (n) Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => n });
    window.__longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
      .observe({ type: 'longtask', buffered: true });
  }, workers);
  await page.goto(BASE_URL);
  await page.locator('#title').waitFor();
  // Without signing in, the certificate panel is in a collapsed section of the start screen.
  await page.locator('details.offline > summary').click();
  return { context, page };
}

/** One generation through the page's UI; returns the key-generation time and the parts. */
async function forgeOnce(page, bits) {
  await page.selectOption('#cert-size', String(bits));
  const before = await page.locator('#credential').getAttribute('data-thumbprint').catch(() => null);
  await page.evaluate(() => { window.__longTasks = []; });
  await page.click('#generate');
  await page.waitForFunction((prev) => {
    const c = document.querySelector('#credential');
    return c && c.dataset.thumbprint !== prev;
  }, before, { timeout: 300000 });
  const d = await page.locator('#credential').evaluate((c) => ({ ...c.dataset }));
  const total = Number(d.seconds) * 1000;
  const longest = await page.evaluate(() => Math.max(0, ...window.__longTasks));
  return {
    total, keygen: total - Number(d.certificateMs) - Number(d.pfxMs),
    certificate: Number(d.certificateMs), pfx: Number(d.pfxMs), assemble: Number(d.assembleMs), longest,
  };
}

async function webcrypto(page, bits) {
  return page.evaluate(async (bits) => {
    const t = performance.now();
    await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: bits,
      publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
    return performance.now() - t;
  }, bits);
}

function openssl(bits) {
  const t = process.hrtime.bigint();
  const r = spawnSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', '/dev/null']);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const browser = await launch();
const { context, page } = await pageWithWorkers(browser, 0);
const cores = await page.evaluate(() => navigator.hardwareConcurrency);
console.log(`Chromium ${browser.version()}, navigator.hardwareConcurrency = ${cores}${quick ? ' (quick run)' : ''}`);
// The long-task figure below means something only if the observer sees long tasks at all.
const seen = await page.evaluate(async () => {
  window.__longTasks = [];
  // A task of the page's own (a timer), as the page's work is; DevTools' evaluate is not one.
  setTimeout(() => { const end = performance.now() + 120; while (performance.now() < end) { /* busy */ } }, 0);
  await new Promise((r) => setTimeout(r, 400));
  return Math.max(0, ...window.__longTasks);
});
console.log(`longtask observer check: a 120 ms busy loop on the main thread is seen as ${seen.toFixed(0)} ms\n`);

const rows = [];
for (const [bits, n] of SIZES) {
  const forge = [], web = [], native = [], certs = [], pfxs = [];
  let longest = 0;
  for (let i = 0; i < n; i++) {
    const r = await forgeOnce(page, bits);
    forge.push(r.keygen); certs.push(r.certificate); pfxs.push(r.pfx);
    if (bits === 4096) longest = Math.max(longest, r.longest);
    web.push(await webcrypto(page, bits));
    native.push(openssl(bits));
  }
  rows.push({ bits, ratio: median(forge) / median(web) });
  console.log(`RSA ${bits}, ${cores} workers (the page's setting)`);
  console.log(`  forge (WASM, workers)   ${fmt(forge)}`);
  console.log(`  WebCrypto generateKey   ${fmt(web)}`);
  console.log(`  OpenSSL genpkey native  ${fmt(native)}`);
  console.log(`  ratio forge/WebCrypto   ${(median(forge) / median(web)).toFixed(1)}x   forge/OpenSSL ${(median(forge) / median(native)).toFixed(1)}x`);
  console.log(`  certificate ${fmt(certs)}; PFX + PEM ${fmt(pfxs)}`);
  if (bits === 4096) console.log(`  longest main-thread task during generation: ${longest.toFixed(0)} ms (longtask observer)`);
  console.log('');
}
await context.close();

console.log('Worker count (RSA 2048, key generation only; ratio to WebCrypto in the same page)');
for (const workers of WORKER_COUNTS) {
  const { context: c, page: p } = await pageWithWorkers(browser, workers);
  const forge = [], web = [];
  for (let i = 0; i < (quick ? 5 : 12); i++) {
    forge.push((await forgeOnce(p, 2048)).keygen);
    web.push(await webcrypto(p, 2048));
  }
  console.log(`  ${workers} worker(s): ${fmt(forge)}; WebCrypto ${median(web).toFixed(0)} ms; ratio ${(median(forge) / median(web)).toFixed(1)}x`);
  await c.close();
}
await browser.close();
