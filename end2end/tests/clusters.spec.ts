import { expect, test, type Page } from '@playwright/test';

import { signIn } from './auth';
import { hydrated, seriousAxeFindings, watchConsole } from './page';
import { loadFleet, testenv, type FleetFacts } from './fleet';

const PAUSED = 'prod-us';

let fleet: FleetFacts;

test.beforeAll(() => {
  fleet = loadFleet();
});

// Every page needs a session: each test signs in as alice through the IdP's real login page first.
test.beforeEach(async ({ page }) => {
  await signIn(page);
});

function row(page: Page, cluster: string) {
  return page.locator(`tr[data-cluster="${cluster}"]`);
}

test('the server-rendered page lists every cluster without JavaScript', async ({ page }) => {
  // The page's request context shares the browser's session cookie.
  const res = await page.request.get('/');
  expect(res.status()).toBe(200);
  const headers = res.headers();
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['content-security-policy']).toMatch(/script-src [^;]*'nonce-[A-Za-z0-9_-]{16,}'/);
  expect(headers['content-security-policy']).not.toContain('unsafe-inline');
  expect(headers['referrer-policy']).toBeTruthy();
  const html = await res.text();
  for (const c of fleet.clusters) {
    expect(html).toContain(`data-cluster="${c.name}"`);
  }
  expect(html).toContain('All ' + fleet.clusters.length + ' clusters reachable');
});

test('every cluster is reachable, the page hydrates, no console errors, no serious axe findings', async ({
  page,
}, testInfo) => {
  const errors = watchConsole(page);
  await page.goto('/');

  await expect(page.getByRole('heading', { level: 1, name: 'Clusters' })).toBeVisible();
  await expect(page.locator('.verdict')).toContainText(`All ${fleet.clusters.length} clusters reachable`);
  for (const c of fleet.clusters) {
    const r = row(page, c.name);
    await expect(r).toHaveAttribute('data-state', 'reachable');
    await expect(r).toContainText('reachable');
    await expect(r).toContainText(c.api_url.replace(/\/$/, ''));
    await expect(r).toContainText(/v\d+\.\d+/); // server version
    await expect(r).toContainText(/\d+ ms/); // latency
  }

  // Hydrated: the button's handler runs the server function in the browser.
  await hydrated(page);
  const refetch = page.waitForResponse((r) => r.url().includes('/api/probe_clusters') && r.status() === 200);
  await page.getByRole('button', { name: 'Check again' }).click();
  await refetch;
  await expect(page.locator('.verdict')).toContainText(`All ${fleet.clusters.length} clusters reachable`);

  await page.screenshot({ path: testInfo.outputPath('clusters-all-reachable.png'), fullPage: true });

  expect(await seriousAxeFindings(page)).toEqual([]);

  expect(errors).toEqual([]);
});

test('the dark theme has no serious axe findings either', async ({ page }, testInfo) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  const errors = watchConsole(page);
  await page.goto('/');
  await expect(page.locator('.verdict')).toContainText('clusters reachable');
  await page.screenshot({ path: testInfo.outputPath('clusters-dark.png'), fullPage: true });
  expect(await seriousAxeFindings(page)).toEqual([]);
  expect(errors).toEqual([]);
});

test('unknown paths get the 404 page', async ({ page }) => {
  const res = await page.goto('/no/such/page');
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
});

test.describe('with a paused cluster', () => {
  test.afterAll(() => {
    testenv('resume', PAUSED);
  });

  test(`${PAUSED} shows as unreachable and the others stay reachable`, async ({ page }, testInfo) => {
    test.skip(!fleet.clusters.some((c) => c.name === PAUSED), `the fleet has no ${PAUSED}`);
    const errors = watchConsole(page);
    try {
      testenv('pause', PAUSED);
      const started = Date.now();
      await page.goto('/');
      const loadMs = Date.now() - started;

      const paused = row(page, PAUSED);
      await expect(paused).toHaveAttribute('data-state', 'unreachable');
      await expect(paused).toContainText('unreachable');
      await expect(paused.locator('.reason')).toContainText(/connection refused|timeout|TLS error|error/);
      for (const c of fleet.clusters.filter((c) => c.name !== PAUSED)) {
        await expect(row(page, c.name)).toHaveAttribute('data-state', 'reachable');
      }
      await expect(page.locator('.verdict')).toContainText(`1 of ${fleet.clusters.length} clusters unreachable: ${PAUSED}`);
      // One dead cluster never delays the page past the probe deadline (2 s) by much.
      expect(loadMs).toBeLessThan(10_000);
      await page.screenshot({ path: testInfo.outputPath('clusters-one-paused.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      testenv('resume', PAUSED);
    }
  });
});
