// The fleet Services list (/services): search on the server, grouping across clusters with drift, access.
import { expect, test, type Page } from '@playwright/test';

import { signIn } from './auth';
import { hydrated, seriousAxeFindings, watchConsole } from './page';
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
  await hydrated(page);
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

test('alice narrows the list with the cluster and type dropdowns; the URL and the rows follow', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/services');
  const errors = watchConsole(page);
  const cluster = page.getByLabel('Cluster', { exact: true });
  const type = page.getByLabel('Type', { exact: true });
  // The options come with the page: every configured cluster, and the types present.
  const clusterOptions = await cluster.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(clusterOptions).toEqual(['', ...fleet.clusters.map((c) => c.name)]);
  await expect(type.locator('option[value="LoadBalancer"]')).toHaveCount(1);

  // Picking applies at once once hydrated (retry until the page is), and empty filters stay out of the URL.
  await expect(async () => {
    await cluster.selectOption('staging');
    await expect(page).toHaveURL(/\/services\?cluster=staging$/, { timeout: 1000 });
  }).toPass();
  await expect(page.getByLabel('Cluster', { exact: true })).toHaveValue('staging');
  await page.getByLabel('Type', { exact: true }).selectOption('LoadBalancer');
  await expect(page).toHaveURL(/\/services\?cluster=staging&type=LoadBalancer$/);
  await expect(service(page, 'team-a/frontend')).toBeVisible();
  await expect(page.getByLabel('Type', { exact: true })).toHaveValue('LoadBalancer');
  const rows = page.locator('tbody tr[data-service]');
  const clusters = await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-clusters') ?? ''));
  expect(clusters.length).toBeGreaterThan(0);
  expect(clusters.filter((c) => !c.split(' ').includes('staging'))).toEqual([]);
  // ClusterIP Services such as checkout are gone.
  await expect(service(page, 'team-a/checkout')).toHaveCount(0);

  // The same filters work as a plain GET (no JavaScript): the options come selected in the HTML.
  const res = await page.request.get('/services?q=&cluster=staging&namespace=&type=LoadBalancer&health=');
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain('data-service="team-a/frontend"');
  expect(html).not.toContain('data-service="team-a/checkout"');
  expect(html).toMatch(/<option value="staging" selected/);
  // A bad filter value: 400 saying why.
  const bad = await page.request.get('/services?cluster=mars');
  expect(bad.status()).toBe(400);
  expect(await bad.text()).toContain('unknown cluster');
  expect(errors).toEqual([]);
});

test("bob's namespace dropdown lists only team-a", async ({ page }) => {
  await signIn(page, 'bob@example.com', '/services');
  const namespaces = await page
    .getByLabel('Namespace', { exact: true })
    .locator('option')
    .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(namespaces).toEqual(['', 'team-a']);
});

test('the quick switcher (Ctrl-K) finds team-a/checkout and Enter opens its Service page', async ({
  page,
}, testInfo) => {
  await signIn(page, 'alice@example.com', '/services');
  const errors = watchConsole(page);
  const dialog = page.getByRole('dialog', { name: 'Go to a Service' });
  // Closed on first paint (server and client render it the same).
  await expect(dialog).toHaveCount(0);
  await page.locator('h1').click();
  await expect(async () => {
    await page.keyboard.press('Control+k');
    await expect(dialog).toBeVisible({ timeout: 1000 });
  }).toPass();
  await expect(dialog).toHaveAttribute('aria-modal', 'true');
  const input = dialog.getByRole('searchbox', { name: 'Find a Service' });
  await expect(input).toBeFocused();
  expect(await seriousAxeFindings(page)).toEqual([]);

  // Escape closes and returns focus; Ctrl-K opens it again.
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await page.keyboard.press('Control+k');
  await expect(input).toBeFocused();
  // Tab stays inside the dialog.
  await page.keyboard.press('Tab');
  await expect(dialog.getByRole('button', { name: 'Close' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(input).toBeFocused();

  await input.fill('team-a/checkout');
  const matches = dialog.locator('#switcher-results a');
  const labels = fleet.clusters.map((c) => `${c.name} / team-a / checkout`).sort();
  await expect(matches.first()).toHaveText(labels[0]);
  await expect(matches.first()).toHaveAttribute('aria-current', 'true');
  // Arrow keys move the selection, Enter opens it.
  await page.keyboard.press('ArrowDown');
  await expect(matches.nth(1)).toHaveAttribute('aria-current', 'true');
  await page.screenshot({ path: testInfo.outputPath('quick-switcher.png') });
  const second = await matches.nth(1).textContent();
  const [cluster] = (second ?? '').split(' / ');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/c/${cluster}/ns/team-a/svc/checkout$`));
  await expect(dialog).toHaveCount(0);
  await expect(page.locator('main')).toContainText('checkout');
  expect(errors).toEqual([]);
});

test('? shows the shortcut help, and Escape closes it', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/services');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await page.locator('h1').click();
  await expect(async () => {
    await page.keyboard.press('?');
    await expect(help).toBeVisible({ timeout: 1000 });
  }).toPass();
  await expect(help).toContainText('Ctrl K');
  await expect(help.getByRole('button', { name: 'Close' })).toBeFocused();
  expect(await seriousAxeFindings(page)).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(help).toHaveCount(0);
});
