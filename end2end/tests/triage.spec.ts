// The on-call triage view (/triage) and the doctor's findings on the Service page.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';

import { signIn } from './auth';
import { seriousAxeFindings, watchConsole } from './page';
import { loadFleet, type FleetFacts } from './fleet';

let fleet: FleetFacts;

test.beforeAll(() => {
  fleet = loadFleet();
});

/** Every deliberately broken fixture Service and the finding that must come first. */
const BROKEN = [
  { ns: 'team-b', name: 'orphan', code: 'selector.matches-nothing', severity: 'Critical', words: /Selector app=does-not-exist matches no pod/ },
  { ns: 'team-a', name: 'frontend', code: 'exposure.lb-pending', severity: 'Critical', words: /LoadBalancer has no address since/ },
  { ns: 'team-b', name: 'wrong-port', code: 'ports.target-not-exposed', severity: 'Warning', words: /targetPort 9999/ },
  { ns: 'team-a', name: 'payments', code: 'pods.readiness-failing', severity: 'Warning', words: /1 of 2 pods fail their readiness probe/ },
];

function row(page: Page, cluster: string, ns: string, name: string) {
  return page.locator('tr.triage-row').filter({ has: page.locator(`a[href="/c/${cluster}/ns/${ns}/svc/${name}"]`) });
}

test('alice sees every broken fixture with the right top finding, worst first', async ({ page }, testInfo) => {
  await signIn(page, 'alice@example.com', '/triage');
  const errors = watchConsole(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Triage' })).toBeVisible();
  await expect(page.locator('.triage-summary')).toContainText(/[\d,]+ of [\d,]+ Services with findings: [\d,]+ critical · [\d,]+ warning · [\d,]+ info/);
  await expect(page.locator('.triage-showing')).toContainText(/showing 1–\d+ of [\d,]+/);

  for (const cluster of fleet.clusters) {
    for (const b of BROKEN) {
      const r = row(page, cluster.name, b.ns, b.name);
      await expect(r, `${cluster.name} ${b.ns}/${b.name}`).toHaveCount(1);
      await expect(r).toHaveAttribute('data-code', b.code);
      await expect(r.locator('.badge')).toContainText(b.severity);
      await expect(r.locator('.top-finding')).toContainText(b.words);
    }
    await expect(row(page, cluster.name, 'team-a', 'payments')).toContainText('1/2');
    // Its traffic, from the cluster's Prometheus (metricsgen: 2.3% 5xx).
    await expect(row(page, cluster.name, 'team-a', 'payments')).toContainText(/req\/s · 2\.30% 5xx/);
  }
  // Worst first: no Critical row after the first Warning row.
  const severities = await page.locator('tr.triage-row .badge').allTextContents();
  const firstWarning = severities.findIndex((s) => !s.includes('Critical'));
  expect(severities.slice(firstWarning).some((s) => s.includes('Critical'))).toBe(false);
  await page.screenshot({ path: testInfo.outputPath('triage-alice.png'), fullPage: true });
  expect(await seriousAxeFindings(page)).toEqual([]);
  expect(errors).toEqual([]);
});

test('filters live in the URL and are applied on the server', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/triage');
  await page.locator('#triage-cluster').selectOption('prod-eu');
  await page.locator('#triage-team').selectOption('team-b');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/\/triage\?cluster=prod-eu&namespace=&team=team-b$/);
  const links = await page.locator('tr.triage-row th a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  expect(links).toEqual(['/c/prod-eu/ns/team-b/svc/orphan', '/c/prod-eu/ns/team-b/svc/wrong-port']);
  // Server-rendered: the same filter answers without JavaScript.
  const html = await (await page.request.get('/triage?namespace=team-a')).text();
  expect(html).toContain('/c/prod-eu/ns/team-a/svc/payments');
  expect(html).not.toContain('/svc/orphan');
});

test('the ranking is paged on the server, with totals over every page', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/triage?limit=2');
  const summary = (await page.locator('.triage-summary').textContent()) ?? '';
  const total = Number(/([\d,]+) of [\d,]+ Services with findings/.exec(summary)?.[1].replace(/,/g, ''));
  const [critical, warning, info] = [/critical/, /warning/, /info/].map((w) =>
    Number(new RegExp(`([\\d,]+) ${w.source}`).exec(summary)?.[1].replace(/,/g, '')),
  );
  expect(critical + warning + info).toBe(total);
  expect(total).toBeGreaterThan(2);
  await expect(page.locator('tr.triage-row')).toHaveCount(2);
  await expect(page.locator('.triage-showing')).toHaveText(`showing 1–2 of ${total}`);
  await expect(page.locator('nav.pager a[rel=prev]')).toHaveCount(0);
  const first = await page.locator('tr.triage-row th a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  await page.locator('nav.pager a[rel=next]').click();
  await expect(page).toHaveURL(/\/triage\?offset=2&limit=2$/);
  await expect(page.locator('.triage-showing')).toHaveText(`showing 3–4 of ${total}`);
  const second = await page.locator('tr.triage-row th a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  expect(second.filter((h) => first.includes(h))).toEqual([]);
  await expect(page.locator('nav.pager a[rel=prev]')).toHaveAttribute('href', '/triage?limit=2');
  // The page size is capped on the server.
  const html = await (await page.request.get('/triage?limit=100000')).text();
  expect((html.match(/class="triage-row /g) ?? []).length).toBeLessThanOrEqual(500);
});

test('a triage row links into the Service page, which shows the same finding first with evidence', async ({ page }, testInfo) => {
  const cluster = fleet.clusters[0].name;
  await signIn(page, 'alice@example.com', `/triage?cluster=${cluster}&namespace=team-a`);
  const errors = watchConsole(page);
  await row(page, cluster, 'team-a', 'payments').getByRole('link', { name: 'payments' }).click();
  await expect(page).toHaveURL(new RegExp(`/c/${cluster}/ns/team-a/svc/payments$`));
  const findings = page.locator('#findings');
  await expect(findings).toBeVisible();
  const first = findings.locator('li.finding').first();
  await expect(first).toHaveAttribute('data-code', 'pods.readiness-failing');
  await expect(first).toContainText('Warning');
  await expect(first.locator('.fix')).toContainText('Fix:');
  // The evidence names the Unhealthy event and links the pod's place on this page.
  await expect(first.locator('.evidence')).toContainText('event Unhealthy');
  const podLink = first.locator('.evidence a[href^="#pod-payments-"]').first();
  await expect(podLink).toBeVisible();
  const anchor = (await podLink.getAttribute('href')) ?? '';
  await expect(page.locator(anchor)).toHaveCount(1);
  await page.screenshot({ path: testInfo.outputPath('service-payments-findings.png'), fullPage: true });

  // The orphan: critical, and its evidence links the Service's own page.
  await page.goto(`/c/${cluster}/ns/team-b/svc/orphan`);
  const orphan = page.locator('#findings li.finding').first();
  await expect(orphan).toHaveAttribute('data-code', 'selector.matches-nothing');
  await expect(orphan).toContainText('Critical');
  await expect(orphan.locator(`.evidence a[href="/c/${cluster}/ns/team-b/svc/orphan"]`)).toHaveCount(1);
  await page.screenshot({ path: testInfo.outputPath('service-orphan-findings.png'), fullPage: true });

  // A healthy Service says so plainly.
  await page.goto(`/c/${cluster}/ns/team-b/svc/inventory`);
  await expect(page.locator('#findings')).toContainText('No problems found');
  // The findings section itself (the rest of the page is its own test's business).
  await page.goto(`/c/${cluster}/ns/team-a/svc/payments`);
  await expect(page.locator('#findings li.finding').first()).toBeVisible();
  const axe = await new AxeBuilder({ page }).include('#findings').analyze();
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
  expect(serious).toEqual([]);
  // Console errors of the rest of the Service page are that page's own test's business.
  expect(errors.filter((e) => !e.includes('Content Security Policy'))).toEqual([]);
});
