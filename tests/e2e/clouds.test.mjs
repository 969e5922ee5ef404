// A whole onboarding in each cloud (worldwide, GCC High, DoD, 21Vianet) against the simulated
// tenant playing it: the scopes name only that cloud's Graph (the simulator refuses another
// cloud's), the tenant card names the cloud, the final lines carry its Exchange environment and
// Security & Compliance endpoints, and MSAL for Python gets a token for that cloud's Exchange
// with the saved PFX. The page reaches nothing but the simulator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launch, openPage, BASE_URL } from './lib/browser.mjs';
import { sim, SIM_URL, signIn, makeAndSave, msalToken } from './lib/onboard.mjs';

const DIR = join(tmpdir(), `unattended-clouds-${process.pid}`);
const EXCHANGE_ADMIN = '29232cdf-9323-42fd-ade2-1d097af3e4de';
const CLOUDS = [
  { name: 'worldwide', label: 'Microsoft worldwide', graph: 'https://graph.microsoft.com', exchange: 'https://outlook.office365.com', env: null, scc: null },
  { name: 'gcchigh', label: 'US Government GCC High', graph: 'https://graph.microsoft.us', exchange: 'https://outlook.office365.us', env: 'O365USGovGCCHigh', scc: 'https://ps.compliance.protection.office365.us/powershell-liveid/' },
  { name: 'dod', label: 'US Government DoD', graph: 'https://dod-graph.microsoft.us', exchange: 'https://webmail.apps.mil', env: 'O365USGovDoD', scc: 'https://l5.ps.compliance.protection.office365.us/powershell-liveid/' },
  { name: 'china', label: 'China (21Vianet)', graph: 'https://microsoftgraph.chinacloudapi.cn', exchange: 'https://partner.outlook.cn', env: 'O365China', scc: 'https://ps.compliance.protection.partner.outlook.cn/powershell-liveid' },
];

let browser;
before(async () => { browser = await launch(); mkdirSync(DIR, { recursive: true }); });
after(async () => { await sim('/_sim/reset', { fixture: 'default', cloud: 'worldwide' }); await browser?.close(); });

/** The test build's config.json with `cloud` set (hosts stay the simulator's). */
const withCloud = (cloud) => [(url) => url.pathname.endsWith('/config.json'), async (route) => {
  const response = await route.fetch();
  const json = { ...(await response.json()), cloud };
  await route.fulfill({ response, json });
}];

for (const cloud of CLOUDS) {
  test(`a whole onboarding in the ${cloud.name} cloud`, async () => {
    await sim('/_sim/reset', { fixture: 'default', cloud: cloud.name });
    const { context, page, seen } = await openPage(browser, { routes: [withCloud(cloud.name)] });
    const authorize = page.waitForRequest((r) => r.url().startsWith(SIM_URL) && r.url().includes('/oauth2/v2.0/authorize'));
    await signIn(page, BASE_URL, 'admin');
    const scopes = new URL((await authorize).url()).searchParams.get('scope').split(' ').slice(3);
    assert.ok(scopes.length >= 5);
    for (const s of scopes) assert.ok(s.startsWith(`${cloud.graph}/`), `${cloud.name}: ${s}`);
    await page.locator('#tenant-facts').waitFor();
    assert.match(await page.locator('#cloud').textContent(), new RegExp(cloud.label.replace(/[()]/g, '.')));
    await page.locator('#app-name').fill(`EXO ${cloud.name}`);
    const made = await makeAndSave(page, DIR, `exo-${cloud.name}`);
    await page.click('#apply-button');
    await page.locator('#finished').waitFor({ timeout: 90000 });
    const lines = (await page.locator('#finished .snippet').allTextContents()).join('\n');
    const connects = lines.split('\n').filter((l) => l.includes('Connect-ExchangeOnline'));
    assert.equal(connects.length, 3);
    for (const l of connects) {
      if (cloud.env) assert.ok(l.includes(`-ExchangeEnvironmentName ${cloud.env}`), l);
      else assert.ok(!l.includes('ExchangeEnvironmentName'), l);
    }
    if (cloud.scc) assert.ok(lines.includes(`-ConnectionUri '${cloud.scc}'`), lines);
    else assert.ok(!lines.includes('-ConnectionUri'));
    const appId = (await page.locator('#done-app-id').textContent()).trim();
    const claims = msalToken({ appId, pfxPath: made.files.pfxPath, password: made.password, resource: cloud.exchange });
    assert.equal(claims.aud, cloud.exchange);
    assert.deepEqual(claims.wids, [EXCHANGE_ADMIN]);
    assert.deepEqual(seen.offHost, [], 'nothing but the simulator and the page');
    assert.deepEqual(seen.pageErrors, []);
    await context.close();
  });
}
