// The fleet Services list (/services): search on the server, grouping across clusters with drift, access.
import { expect, test, type Page } from '@playwright/test';

import { signIn } from './auth';
import { seriousAxeFindings, watchConsole } from './page';
import { loadFleet, type FleetFacts } from './fleet';

let fleet: FleetFacts;

test.beforeAll(() => {
  fleet = loadFleet();
});

function service(page: Page, key: string) {
  return page.locator(`tr[data-service="${key}"]`);
}

test('alice finds team-a/checkout across every cluster, with drift, by search', async ({ page }, testInfo) => {
  await signIn(page, 'alice@example.com', '/services');
  const errors = watchConsole(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Services' })).toBeVisible();
  await expect(page.locator('.showing')).toContainText(/showing \d+ of \d+/);

  // `/` focuses the search box (hydrated), and the search is a plain GET form: the URL carries it.
  await page.locator('body').click();
  await page.keyboard.press('/');
  const search = page.getByRole('searchbox', { name: 'Search' });
  await expect(search).toBeFocused();
  await search.fill('checkout');
  await search.press('Enter');
  await expect(page).toHaveURL(/\/services\?q=checkout$/);

  const row = service(page, 'team-a/checkout');
  await expect(row).toBeVisible();
  const names = fleet.clusters.map((c) => c.name).sort();
  await expect(row).toHaveAttribute('data-clusters', names.join(' '));
  await expect(row).toHaveAttribute('data-differs', 'true');
  await expect(row).toContainText('≠');
  await expect(row).toContainText('ClusterIP');
  await expect(row).toContainText(/\d+\/\d+/); // ready/total endpoints
  // Health: icon and word, never color alone.
  await expect(row.locator('.badge')).toContainText(/Serving|Degraded|Not serving|Pending|Unknown|External/);
  await expect(page.locator('.showing')).toContainText(/showing \d+ of \d+/);

  // Sorting is a link: the URL carries it, and the row stays.
  await page.locator('table.services thead').getByRole('link', { name: 'Service', exact: true }).click();
  await expect(page).toHaveURL(/sort=name/);
  await expect(service(page, 'team-a/checkout')).toBeVisible();

  await page.screenshot({ path: testInfo.outputPath('services-alice-checkout.png'), fullPage: true });
  expect(await seriousAxeFindings(page)).toEqual([]);
  expect(errors).toEqual([]);
});

test('the list is server-rendered: without JavaScript the search still answers', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/services');
  const res = await page.request.get('/services?q=checkout');
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain('data-service="team-a/checkout"');
  expect(html).toContain('value="checkout"');
});

test('a search that does not parse says why, with a 400', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/services');
  const res = await page.goto('/services?q=colour:blue');
  expect(res?.status()).toBe(400);
  await expect(page.locator('main')).toContainText('unknown filter "colour:"');
});

test('bob sees only team-a Services', async ({ page }, testInfo) => {
  await signIn(page, 'bob@example.com', '/services');
  const errors = watchConsole(page);
  await page.goto('/services?limit=500');
  await expect(service(page, 'team-a/checkout')).toBeVisible();
  const keys = await page.locator('tbody tr[data-service]').evaluateAll((rows) =>
    rows.map((r) => r.getAttribute('data-service') ?? ''),
  );
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.filter((k) => !k.startsWith('team-a/'))).toEqual([]);
  await expect(page.locator('tr[data-service^="team-b/"]')).toHaveCount(0);
  await page.screenshot({ path: testInfo.outputPath('services-bob.png'), fullPage: true });
  expect(await seriousAxeFindings(page)).toEqual([]);
  expect(errors).toEqual([]);
});
