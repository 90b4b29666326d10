// Traffic and resource metrics on the Service page (and the rate column of the list), from the fleet's real
// Prometheus scraping testenv's metricsgen: checkout serves 120 req/s per cluster with 0.1% 5xx, p99 180 ms.
// Screenshots of the charts are saved as test artifacts.
import { expect, test, type Page } from '@playwright/test';

import { readFileSync } from 'node:fs';
import path from 'node:path';

import { signIn } from './auth';
import AxeBuilder from '@axe-core/playwright';
import { testenv, testenvDir } from './fleet';

import { watchConsole } from './page';

const checkout = '/c/prod-eu/ns/team-a/svc/checkout';

function traffic(page: Page) {
  return page.locator('section#traffic');
}

test('alice: the Service page shows traffic charts and CPU/memory against requests and limits', async ({
  page,
}, testInfo) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page, 'alice@example.com', `${checkout}?range=15m`);
  const errors = watchConsole(page);
  const section = traffic(page);
  await expect(section.locator('h2')).toHaveText('Traffic');

  // The headline: rate, errors and p99 close to what metricsgen serves.
  const headline = section.getByTestId('traffic-headline');
  await expect(headline).toContainText(/rate 1[12]\d\/s/);
  await expect(headline).toContainText('errors 0.10%');
  // metricsgen's log-normal p99 is 180 ms; histogram_quantile interpolates in the 100-250 ms bucket.
  await expect(headline).toContainText(/p99 (1[5-9]\d|2[0-4]\d) ms/);
  await expect(headline).toContainText('(istio)');

  // Three charts with axes, units and values on hover (<title> on every point); a freshly started fleet (CI)
  // has only minutes of data, so fewer than the 60 points of a full 15 min.
  for (const id of ['chart-rate', 'chart-errors', 'chart-latency']) {
    const chart = section.locator(`figure#${id}`);
    await expect(chart.locator('svg')).toBeVisible();
    expect(await chart.locator('circle.pt').count(), id).toBeGreaterThan(5);
    await expect(chart.locator('text.axis').first()).toBeVisible();
  }
  await expect(section.locator('figure#chart-rate circle.pt title').last()).toHaveText(/UTC · requests\/s 1[12]\d\/s/);
  await expect(section.locator('figure#chart-latency g[data-series]')).toHaveCount(3);
  await expect(section.locator('figure#chart-latency .legend')).toContainText('p99');
  await expect(section.locator('nav.ranges a[aria-current="page"]')).toHaveText('15m');

  // Hovering a point shows its value (the browser's tooltip comes from <title>; the point lights up).
  const point = section.locator('figure#chart-rate circle.pt').nth(10);
  await point.hover();

  // CPU and memory of each backing pod against requests (100m, 128Mi) and the memory limit (128Mi).
  const pods = section.locator('table.pod-resources tbody tr');
  expect(await pods.count()).toBeGreaterThan(0);
  await expect(pods.first().locator('.usage').first()).toContainText('request 100m');
  await expect(pods.first().locator('.usage').first()).toContainText('limit none');
  await expect(pods.first().locator('.usage').nth(1)).toContainText('request 128 MiB');
  await expect(pods.first().locator('.usage').nth(1)).toContainText('limit 128 MiB');

  // The page re-renders its sections when the cluster announces a change (the namespace's Events, the HPA):
  // retry a screenshot that a re-render interrupted.
  await expect(async () => {
    await section.locator('.charts').screenshot({ path: testInfo.outputPath('traffic-charts.png'), timeout: 5_000 });
    await section.screenshot({ path: testInfo.outputPath('traffic-section.png'), timeout: 5_000 });
  }).toPass({ timeout: 30_000 });

  // The range selector lives in the URL.
  await section.locator('nav.ranges a', { hasText: '6h' }).click();
  await expect(page).toHaveURL(/range=6h/);
  await expect(section.locator('nav.ranges a[aria-current="page"]')).toHaveText('6h');
  await expect(section.locator('.traffic-panel')).toHaveAttribute('data-range', '6h');

  expect(errors, errors.join('\n')).toEqual([]);
  // axe on this section (the rest of the page is other tests' business).
  const axe = await new AxeBuilder({ page }).include('section#traffic').analyze();
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(' | ')}`)).toEqual([]);
});

test('without JavaScript the charts are static SVG from the server', async ({ browser }, testInfo) => {
  const context = await browser.newContext({ javaScriptEnabled: true });
  const page = await context.newPage();
  await signIn(page, 'alice@example.com', '/whoami');
  const html = await page.request.get(`${checkout}?range=1h`);
  expect(html.status()).toBe(200);
  const body = await html.text();
  expect(body).toContain('id="chart-rate"');
  expect(body).toMatch(/<circle [^>]*class="pt"[^>]*><title>\d\d:\d\d UTC · requests\/s \d+\/s/);
  const noJs = await browser.newContext({ javaScriptEnabled: false, storageState: await context.storageState() });
  const static_ = await noJs.newPage();
  await static_.goto(`${checkout}?range=1h`);
  await expect(static_.locator('figure#chart-latency svg')).toBeVisible();
  await static_.locator('section#traffic').screenshot({ path: testInfo.outputPath('traffic-no-js.png') });
  await noJs.close();
  await context.close();
});

test('a crafted range is refused and a crafted name never reaches Prometheus', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/whoami');
  const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  const call = (args: Record<string, string>) =>
    page.request.post('/api/service_metrics', {
      form: args,
      headers: { 'x-csrf-token': csrf ?? '', origin: new URL(page.url()).origin },
    });
  const bad = await call({ cluster: 'prod-eu', namespace: 'team-a', name: 'checkout', range: '2h' });
  expect(bad.status()).toBe(400);
  const injected = await call({
    cluster: 'prod-eu',
    namespace: 'team-a',
    name: 'checkout"} or istio_requests_total{destination_service_namespace="team-b',
    range: '1h',
  });
  expect(injected.status()).toBe(400);
  expect(await injected.text()).toContain('is not a valid Kubernetes name');
});

test('the Services list shows the current rate and 5xx share', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/services?q=checkout');
  const errors = watchConsole(page);
  const row = page.locator('tr[data-service="team-a/checkout"]');
  await expect(row.locator('.rate')).toContainText(/\d+\/s/);
  await expect(row.locator('.rate .err')).toHaveText('0.10%');
  // 120/s in each of the three clusters once Prometheus holds the 5 min window (a fleet started minutes ago, as
  // in CI, shows less); never more.
  const rate = Number(await row.locator('.rate').getAttribute('data-rate'));
  expect(rate).toBeGreaterThan(0);
  expect(rate).toBeLessThanOrEqual(363);
  expect(errors, errors.join('\n')).toEqual([]);
});

test('Prometheus stopped: the rest of the page renders within 2 s and the doctor says unreachable', async ({
  page,
}, testInfo) => {
  // Stop staging's real Prometheus (testenv started it; its PID is in testenv's pidfile), and always start it
  // again with `testenv up` (idempotent: it starts only what is missing).
  const pidfile = path.join(testenvDir, 'staging', 'prometheus', 'prometheus.pid');
  // The pidfile holds the PID, then the program (testenv checks both before it signals a PID).
  const pid = Number(readFileSync(pidfile, 'utf8').split('\n')[0].trim());
  expect(pid).toBeGreaterThan(1);
  await signIn(page, 'alice@example.com', '/whoami');
  try {
    process.kill(pid, 'SIGTERM');
    await expect
      .poll(() => {
        try {
          process.kill(pid, 0);
          return 'running';
        } catch {
          return 'stopped';
        }
      }, { timeout: 10_000 })
      .toBe('stopped');

    const started = Date.now();
    const response = await page.goto('/c/staging/ns/team-a/svc/checkout');
    const took = Date.now() - started;
    expect(response?.status()).toBe(200);
    expect(took, `server-rendered page took ${took} ms`).toBeLessThan(2000);
    // The rest of the page is there (server-rendered, not waiting for Prometheus) ...
    await expect(page.locator('section#endpoints')).toBeVisible();
    await expect(page.locator('section#pods')).toBeVisible();
    // ... and the traffic section says why it is empty, and what to check.
    const doctor = traffic(page).locator('.doctor').first();
    await expect(doctor).toHaveAttribute('data-doctor', 'Unreachable');
    await expect(doctor).toContainText('Prometheus unreachable');
    await expect(doctor.locator('.fix')).toContainText('What to do');
    await expect(async () => {
      await traffic(page).screenshot({ path: testInfo.outputPath('traffic-prometheus-stopped.png'), timeout: 5_000 });
    }).toPass({ timeout: 30_000 });
  } finally {
    testenv('up');
  }
});
