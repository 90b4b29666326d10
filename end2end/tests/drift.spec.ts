// Drift between the clusters' copies of a Service (/drift, /drift/:namespace/:name) and "Can A reach B" (/reach),
// as alice (sre). The fixtures make team-a/checkout differ: prod-us runs 2 pods of v1.4.1, staging adds the
// port metrics 9102 and sessionAffinity ClientIP. team-b/inventory only admits team-a pods app=frontend on 8080.
import { expect, test, type Page } from '@playwright/test';

import { signIn } from './auth';
import { seriousAxeFindings, watchConsole } from './page';

function field(page: Page, key: string) {
  return page.locator(`table.drift tr[data-field="${key}"]`);
}

test('the drift view shows checkout side by side, differing fields marked', async ({ page }, testInfo) => {
  await signIn(page, 'alice@example.com', '/services?q=checkout');
  const errors = watchConsole(page);

  // The list's ≠ links to the drift view.
  const row = page.locator('tr[data-service="team-a/checkout"]');
  await row.getByRole('link', { name: '≠' }).first().click();
  await expect(page).toHaveURL(/\/drift\/team-a\/checkout$/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('team-a/checkout');

  // One column per cluster.
  const headers = page.locator('table.drift thead th');
  await expect(headers).toHaveText(['Field', 'prod-eu', 'prod-us', 'staging']);
  await expect(page.locator('.drift-summary')).toContainText(
    'differ in: ports, session affinity, images, replicas (pods ready/total), ready endpoints',
  );

  // Differing fields: marker and text, not color alone.
  for (const key of ['ports', 'session_affinity', 'images', 'replicas', 'ready_endpoints']) {
    await expect(field(page, key)).toHaveAttribute('data-state', 'differs');
    await expect(field(page, key)).toContainText('≠ differs');
  }
  for (const key of ['type', 'selector', 'traffic_policies', 'probes', 'network_policies']) {
    await expect(field(page, key)).toHaveAttribute('data-state', 'same');
  }
  const images = field(page, 'images').locator('td');
  await expect(images.nth(0)).toContainText('fleetpane-demo/checkout:v1.4.2');
  await expect(images.nth(1)).toContainText('≠ differs from prod-eu');
  await expect(images.nth(1)).toContainText('fleetpane-demo/checkout:v1.4.1');
  await expect(images.nth(1)).toHaveAttribute('data-differs', 'true');
  await expect(images.nth(2)).toHaveAttribute('data-differs', 'false');
  const replicas = field(page, 'replicas').locator('td');
  await expect(replicas.nth(0)).toContainText('3/3 pods ready');
  await expect(replicas.nth(1)).toContainText('2/2 pods ready');
  await expect(field(page, 'session_affinity').locator('td').nth(2)).toContainText('ClientIP');
  await expect(field(page, 'ports').locator('td').nth(2)).toContainText('metrics 9102→metrics/TCP');

  await page.screenshot({ path: testInfo.outputPath('drift-team-a-checkout.png'), fullPage: true });
  expect(await seriousAxeFindings(page)).toEqual([]);

  // The fleet view lists checkout and links back.
  await page.goto('/drift');
  const listed = page.locator('table.drift-list tr[data-service="team-a/checkout"]');
  await expect(listed).toContainText('images');
  await expect(page.locator('table.drift-list tr[data-service="team-b/inventory"]')).toHaveCount(0);
  await page.screenshot({ path: testInfo.outputPath('drift-fleet.png'), fullPage: true });
  await listed.getByRole('link', { name: 'checkout' }).click();
  await expect(page).toHaveURL(/\/drift\/team-a\/checkout$/);
  expect(await seriousAxeFindings(page)).toEqual([]);
  expect(errors).toEqual([]);
});

test('/reach: team-a frontend may reach team-b/inventory, checkout may not', async ({ page }, testInfo) => {
  await signIn(page, 'alice@example.com', '/reach');
  const errors = watchConsole(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Can A reach B?');

  // The GET form: the URL carries the question.
  await page.getByLabel('Cluster').fill('prod-eu');
  await page.getByLabel('Namespace', { exact: true }).fill('team-a');
  await page.getByLabel('Labels').fill('app=frontend');
  await page.getByLabel('Service (namespace/name)').fill('team-b/inventory');
  await page.getByLabel('Port (number or name)').fill('80');
  await page.getByRole('button', { name: 'Check' }).click();
  await expect(page).toHaveURL(/\/reach\?cluster=prod-eu&.*to_service=team-b%2Finventory/);
  const answer = page.locator('.reach-answer');
  await expect(answer).toHaveAttribute('data-verdict', 'Allowed');
  await expect(answer.locator('.verdict')).toContainText('Allowed');
  await expect(answer).toContainText('team-b/allow-frontend rule 1');
  await expect(answer).toContainText('TCP 8080');
  await expect(answer.locator('tr[data-allowed="true"]')).toHaveCount(2);
  await page.screenshot({ path: testInfo.outputPath('reach-allowed.png'), fullPage: true });
  expect(await seriousAxeFindings(page)).toEqual([]);

  // A look-alike caller: denied, naming the policies that select the pods.
  await page.goto('/reach?cluster=prod-eu&from_namespace=team-a&from_labels=app%3Dcheckout&to_service=team-b%2Finventory&port=http');
  await expect(answer).toHaveAttribute('data-verdict', 'Denied');
  await expect(answer).toContainText('team-b/allow-frontend, team-b/default-deny select the pod for ingress');
  await page.screenshot({ path: testInfo.outputPath('reach-denied.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('/reach answers bad input with 400 and a clear message, server-rendered', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/reach');
  const ok = await page.request.get('/reach?cluster=prod-eu&from_namespace=team-a&from_labels=app%3Dfrontend&to_service=team-b%2Finventory&port=80');
  expect(ok.status()).toBe(200);
  expect(await ok.text()).toContain('data-verdict="Allowed"');
  const bad = await page.request.get('/reach?cluster=prod-eu&from_namespace=team-a&to_service=team-b%2Finventory&port=9999');
  expect(bad.status()).toBe(400);
  expect(await bad.text()).toContain('has no port');
  const unknown = await page.request.get('/reach?cluster=nowhere&from_namespace=team-a&to_service=team-b%2Finventory');
  expect(unknown.status()).toBe(400);
  expect(await unknown.text()).toContain('unknown cluster');
  const drift = await page.request.get('/drift/Team_A/checkout');
  expect(drift.status()).toBe(400);
});
