// A whole new-app onboarding against the simulated tenant with 100 ms added to every request
// (preflights included), in Debian's Chromium: sequential round trips after sign-in and the
// apply wall time. Prints figures; asserts nothing (timings are never test assertions).
//   node ../bench/onboard.mjs [--quick]     (from tests/e2e; BASE_URL and SIM_URL set by xtask)
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, BASE_URL } from '../e2e/lib/browser.mjs';
import { sequential } from './trips.mjs';
import { reset, faults, sim, signIn, makeAndSave } from '../e2e/lib/onboard.mjs';

const LATENCY_MS = 100;
const runs = process.argv.includes('--quick') ? 1 : 3;
const dir = join(tmpdir(), `unattended-bench-${process.pid}`);
mkdirSync(dir, { recursive: true });

const browser = await launch();
const results = [];
for (let run = 1; run <= runs; run++) {
  await reset('default');
  await faults({ latencyMs: LATENCY_MS });
  // A plain context: Playwright's request interception would answer CORS preflights itself and
  // hide their round trips.
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, BASE_URL, 'admin');
  await page.locator('#tenant-facts').waitFor({ timeout: 30000 });
  await page.locator('#app-name').fill(`Bench app ${run}`);
  await makeAndSave(page, dir, `bench-${run}`);
  const clicked = Date.now();
  const t0 = await page.evaluate(() => performance.now());
  await page.click('#apply-button');
  await page.locator('#finished').waitFor({ timeout: 60000 });
  const t1 = await page.evaluate(() => performance.now());
  const { requests } = await sim('/_sim/requests');
  const redeem = requests.find((r) => r.method === 'POST' && r.path.endsWith('/oauth2/v2.0/token'));
  const after = requests.filter((r) => r.startMs >= redeem.startMs && !r.path.startsWith('/_sim'));
  const apply = after.filter((r) => r.startMs >= clicked);
  const real = (list) => list.filter((r) => r.method !== 'OPTIONS');
  results.push({
    run,
    afterSignIn: { requests: real(after).length, preflights: after.length - real(after).length, sequential: sequential(real(after)), sequentialWithPreflights: sequential(after) },
    apply: { requests: real(apply).length, preflights: apply.length - real(apply).length, sequential: sequential(real(apply)), sequentialWithPreflights: sequential(apply), wallMs: Math.round(t1 - t0) },
    calls: real(after).map((r) => `${r.method} ${r.path.split('?')[0]}`),
  });
  await context.close();
}
await faults({});
await browser.close();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\nOnboarding a new app against the simulated tenant, ${LATENCY_MS} ms added per request, ${runs} run(s):`);
console.log(`  after sign-in (token redemption onward): ${results[0].afterSignIn.requests} requests, ${results[0].afterSignIn.sequential} sequential round trips (${results[0].afterSignIn.sequentialWithPreflights} counting ${results[0].afterSignIn.preflights} CORS preflights)`);
console.log(`  apply: ${results[0].apply.requests} requests, ${results[0].apply.sequential} sequential round trips (${results[0].apply.sequentialWithPreflights} with ${results[0].apply.preflights} preflights)`);
console.log(`  apply wall time: median ${median(results.map((r) => r.apply.wallMs))} ms (runs: ${results.map((r) => r.apply.wallMs).join(', ')} ms)`);
console.log(`  calls: ${results[0].calls.join(' | ')}`);
console.log(JSON.stringify({ latencyMs: LATENCY_MS, results }));
