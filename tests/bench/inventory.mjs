// The day-two inventory of the `lifecycle` fixture (7 principals, 7 certificates, about 140
// assignments on Exchange over 2 pages, the beta usage report) against the simulated tenant
// with 100 ms added to every request (preflights included), in Debian's Chromium: sequential
// round trips from the tab's opening to the table, and the wall time. Prints figures; asserts
// nothing (timings are never test assertions).
//   node ../bench/inventory.mjs [--quick]     (from tests/e2e; BASE_URL and SIM_URL set by xtask)
import { launch, BASE_URL } from '../e2e/lib/browser.mjs';
import { sequential } from './trips.mjs';
import { reset, faults, sim, signIn } from '../e2e/lib/onboard.mjs';

const LATENCY_MS = 100;
const runs = process.argv.includes('--quick') ? 1 : 3;

const browser = await launch();
const results = [];
for (let run = 1; run <= runs; run++) {
  await reset('lifecycle');
  await faults({ latencyMs: LATENCY_MS });
  // A plain context: Playwright's request interception would answer CORS preflights itself and
  // hide their round trips.
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor({ timeout: 30000 });
  const opened = Date.now();
  const t0 = await page.evaluate(() => performance.now());
  await page.check('#flow-inventory');
  await page.locator('#inventory-summary').waitFor({ timeout: 60000 });
  const t1 = await page.evaluate(() => performance.now());
  const { requests } = await sim('/_sim/requests');
  const all = requests.filter((r) => r.startMs >= opened && !r.path.startsWith('/_sim'));
  const real = all.filter((r) => r.method !== 'OPTIONS');
  results.push({
    run,
    principals: await page.locator('tbody.principal').count(),
    requests: real.length,
    preflights: all.length - real.length,
    sequential: sequential(real),
    sequentialWithPreflights: sequential(all),
    wallMs: Math.round(t1 - t0),
    calls: real.map((r) => `${r.method} ${r.path.split('?')[0]}`),
  });
  await context.close();
}
await faults({});
await browser.close();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r = results[0];
console.log(`\nThe inventory of the lifecycle fixture (${r.principals} principals), ${LATENCY_MS} ms added per request, ${runs} run(s):`);
console.log(`  ${r.requests} requests, ${r.sequential} sequential round trips (${r.sequentialWithPreflights} counting ${r.preflights} CORS preflights)`);
console.log(`  wall time from opening the tab to the table: median ${median(results.map((x) => x.wallMs))} ms (runs: ${results.map((x) => x.wallMs).join(', ')} ms)`);
console.log(`  calls: ${r.calls.join(' | ')}`);
console.log(JSON.stringify({ latencyMs: LATENCY_MS, results }));
