// The Service page (/c/{cluster}/ns/{namespace}/svc/{name}): spec, DNS names, resolved targetPorts, endpoints
// per zone, pods with their three probes, related HPA/PDB/Ingress/NetworkPolicies, events and kubectl; access as
// alice (sre), bob (team-a only) and dave (Services and EndpointSlices, no pods). Expected values come from the
// apiserver itself (admin), not from constants that could drift.
import { expect, test, type Page } from '@playwright/test';

import { signIn } from './auth';
import { adminRequest } from './kube';
import { seriousAxeFindings, watchConsole } from './page';

const checkout = '/c/prod-eu/ns/team-a/svc/checkout';

function section(page: Page, id: string) {
  return page.locator(`section#${id}`);
}

async function admin(path: string): Promise<any> {
  const res = await adminRequest('prod-eu', 'GET', path);
  expect(res.status, path).toBe(200);
  return res.body;
}

test('alice: team-a/checkout on prod-eu shows spec, DNS, endpoints, probes and related objects', async ({
  page,
}, testInfo) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await signIn(page, 'alice@example.com', checkout);
  const errors = watchConsole(page);
  const svc = await admin('/api/v1/namespaces/team-a/services/checkout');
  const slices = await admin(
    '/apis/discovery.k8s.io/v1/namespaces/team-a/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dcheckout',
  );
  const hpa = await admin('/apis/autoscaling/v2/namespaces/team-a/horizontalpodautoscalers/checkout');
  const pdb = await admin('/apis/policy/v1/namespaces/team-a/poddisruptionbudgets/checkout');

  // Header: where, verdict first, freshness.
  await expect(page.locator('h1')).toContainText('prod-eu / team-a / checkout');
  const endpoints = slices.items.flatMap((s: any) => s.endpoints ?? []);
  const ready = endpoints.filter((e: any) => e.conditions?.ready !== false);
  await expect(page.locator('#verdict')).toContainText(`${ready.length}/${endpoints.length} endpoints ready`);
  await expect(page.locator('#freshness')).toContainText(/live|read now/);

  // Exposure: type, IP, family, ports with targetPorts resolved to the container's named ports.
  const exposure = section(page, 'exposure');
  await expect(exposure.locator('#svc-type')).toHaveText('ClusterIP');
  await expect(exposure.locator('#cluster-ips')).toHaveText(svc.spec.clusterIP);
  await expect(exposure.locator('#ip-families')).toContainText('IPv4');
  await expect(exposure.locator('#selector')).toContainText('app=checkout');
  const http = exposure.locator('tr[data-port="80"]');
  await expect(http).toContainText('http');
  await expect(http.locator('td.resolution')).toHaveClass(/state-ok/);
  await expect(http.locator('td.resolution')).toContainText('resolves to checkout:8080');
  await expect(http.locator('td.resolution')).toContainText('probed by readiness, liveness');
  await expect(exposure.locator('tr[data-port="9090"] td.resolution')).toContainText('resolves to checkout:9090');

  // DNS names, each with a copy button.
  const dns = section(page, 'dns');
  for (const name of [
    'checkout',
    'checkout.team-a',
    'checkout.team-a.svc.cluster.local',
    '_http._tcp.checkout.team-a.svc.cluster.local',
    '_grpc._tcp.checkout.team-a.svc.cluster.local',
  ]) {
    const row = dns.locator(`li[data-dns="${name}"]`);
    await expect(row).toBeVisible();
    await expect(row.getByRole('button', { name: `Copy ${name}` })).toBeVisible();
  }
  await expect(dns.locator('li[data-dns="checkout"]')).toContainText(svc.spec.clusterIP);

  // Endpoints: every endpoint with its conditions, node and zone; zones summed.
  const eps = section(page, 'endpoints');
  await expect(eps.locator('tbody tr')).toHaveCount(endpoints.length);
  for (const e of endpoints) {
    const row = eps.locator(`tr[data-endpoint="${e.addresses.join(',')}"]`);
    await expect(row).toContainText(e.conditions?.ready === false ? 'not ready' : 'ready');
    await expect(row).toContainText(e.zone);
    await expect(row).toContainText(e.nodeName);
    await expect(row).toContainText(e.targetRef.name);
  }
  const zones = new Map<string, [number, number]>();
  for (const e of endpoints) {
    const [r, t] = zones.get(e.zone) ?? [0, 0];
    zones.set(e.zone, [r + (e.conditions?.ready === false ? 0 : 1), t + 1]);
  }
  for (const [zone, [r, t]] of zones) {
    await expect(eps.locator(`li.zone[data-zone="${zone}"]`)).toContainText(`${r}/${t}`);
  }

  // Pods: each backing pod with the three probes of checkout: httpGet, tcpSocket and grpc.
  const pods = section(page, 'pods');
  await expect(pods.locator('article.pod')).toHaveCount(endpoints.length);
  const first = pods.locator('article.pod').first();
  await expect(first).toContainText('Running');
  await expect(first).toContainText(/age \S+ ago/);
  await expect(first.locator('li[data-probe="readiness"]')).toHaveAttribute('data-kind', 'httpGet');
  await expect(first.locator('li[data-probe="readiness"]')).toContainText('httpGet :http→8080 /healthz');
  await expect(first.locator('li[data-probe="liveness"]')).toHaveAttribute('data-kind', 'tcpSocket');
  await expect(first.locator('li[data-probe="liveness"]')).toContainText('tcpSocket :8080 (http)');
  await expect(first.locator('li[data-probe="startup"]')).toHaveAttribute('data-kind', 'grpc');
  await expect(first.locator('li[data-probe="startup"]')).toContainText('every 5s');
  await expect(first.locator('li[data-probe="startup"]')).toContainText('failure 30');

  // Related: the Ingress path, the Deployment through its ReplicaSet, HPA and PDB as the cluster has them.
  const related = section(page, 'related');
  await expect(related.locator('li[data-route="Ingress/team-a/web"]')).toContainText('/checkout (Prefix) → port 80');
  await expect(related.locator('li[data-workload="Deployment/checkout"]')).toContainText('through ReplicaSet');
  const hpaRow = related.locator('li[data-hpa="checkout"]');
  await expect(hpaRow).toContainText(`min ${hpa.spec.minReplicas} · max ${hpa.spec.maxReplicas}`);
  await expect(hpaRow).toContainText('resource cpu');
  await expect(hpaRow).toContainText('70%');
  const pdbRow = related.locator('li[data-pdb="checkout"]');
  await expect(pdbRow).toContainText(`minAvailable ${pdb.spec.minAvailable}`);
  const allowed = pdb.status.disruptionsAllowed;
  await expect(pdbRow).toContainText(
    allowed === 0 ? 'allows no disruption now' : `allows ${allowed} disruption${allowed === 1 ? '' : 's'} now`,
  );
  await expect(related.locator('#related-netpol')).toContainText('No NetworkPolicy selects these pods');

  // kubectl commands that show the same data.
  await expect(section(page, 'kubectl')).toContainText('kubectl --context prod-eu -n team-a get svc checkout -o yaml');

  await page.screenshot({ path: testInfo.outputPath('service-checkout-alice.png'), fullPage: true });
  await page.screenshot({ path: testInfo.outputPath('service-checkout-alice-viewport.png') });
  expect(await seriousAxeFindings(page)).toEqual([]);
  expect(errors).toEqual([]);
});

test('copy buttons put the text on the clipboard (hydrated)', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await signIn(page, 'alice@example.com', checkout);
  const fqdn = 'checkout.team-a.svc.cluster.local';
  const button = page.getByRole('button', { name: `Copy ${fqdn}`, exact: true });
  // The button works once the page is hydrated; retry the click until it says so.
  await expect(async () => {
    await button.click();
    await expect(button).toHaveText('Copied', { timeout: 500 });
  }).toPass();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(fqdn);
});

test('alice: payments has an exec probe, a not-ready endpoint in the URL filter, and its Unhealthy events', async ({
  page,
}, testInfo) => {
  await signIn(page, 'alice@example.com', '/c/prod-eu/ns/team-a/svc/payments');
  const errors = watchConsole(page);
  await expect(page.locator('#verdict')).toContainText('1/2 endpoints ready');
  await expect(section(page, 'exposure').locator('tr[data-port="80"]')).toContainText('30080');
  const probe = section(page, 'pods').locator('li[data-probe="readiness"]').first();
  await expect(probe).toHaveAttribute('data-kind', 'exec');
  await expect(probe).toContainText('exec /app/healthcheck --ready');
  // The failing pod's Unhealthy events, in its card and in the Events section.
  const failing = section(page, 'pods').locator('article.pod', { has: page.locator('.badge-bad') });
  await expect(failing).toHaveCount(1);
  await expect(failing.locator('.pod-events')).toContainText('Unhealthy');
  await expect(failing.locator('.pod-events')).toContainText('Readiness probe failed');
  await expect(section(page, 'events')).toContainText('Unhealthy');

  // The endpoint filter lives in the URL.
  await section(page, 'endpoints').getByRole('link', { name: /not ready/ }).click();
  await expect(page).toHaveURL(/\?endpoints=not-ready/);
  await expect(section(page, 'endpoints').locator('tbody tr')).toHaveCount(1);
  await expect(section(page, 'endpoints').locator('tbody tr')).toHaveAttribute('data-ready', 'false');
  await page.screenshot({ path: testInfo.outputPath('service-payments-not-ready.png'), fullPage: true });
  expect(await seriousAxeFindings(page)).toEqual([]);
  expect(errors).toEqual([]);
});

test('alice: the NetworkPolicies selecting team-b/inventory, with their rules', async ({ page }, testInfo) => {
  await signIn(page, 'alice@example.com', '/c/prod-eu/ns/team-b/svc/inventory');
  const netpol = section(page, 'related').locator('#related-netpol');
  await expect(netpol.locator('li[data-netpol="default-deny"]')).toContainText('denies all ingress');
  const allow = netpol.locator('li[data-netpol="allow-frontend"]');
  await expect(allow).toContainText('selects app=inventory');
  await expect(allow).toContainText(
    'from namespaces kubernetes.io/metadata.name=team-a, pods app=frontend on TCP 8080',
  );
  await expect(section(page, 'exposure').locator('tr[data-port="80"] td.resolution')).toContainText(
    'resolves to inventory:8080',
  );
  await page.screenshot({ path: testInfo.outputPath('service-inventory-netpol.png'), fullPage: true });
});

test('the headless and ExternalName Services show their own DNS records', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/c/prod-eu/ns/team-a/svc/checkout-headless');
  await expect(section(page, 'exposure').locator('#cluster-ips')).toHaveText('None (headless)');
  // One record per ready pod IP, in CoreDNS's dashed form.
  const slices = await admin(
    '/apis/discovery.k8s.io/v1/namespaces/team-a/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dcheckout-headless',
  );
  const ips: string[] = slices.items
    .flatMap((s: any) => s.endpoints ?? [])
    .filter((e: any) => e.conditions?.ready !== false)
    .flatMap((e: any) => e.addresses);
  expect(ips.length).toBeGreaterThan(0);
  for (const ip of ips) {
    const record = `${ip.replaceAll('.', '-')}.checkout-headless.team-a.svc.cluster.local`;
    await expect(section(page, 'dns').locator(`li[data-dns="${record}"]`)).toContainText('pod (headless)');
  }
  await page.goto('/c/prod-eu/ns/team-a/svc/legacy-db');
  await expect(page.locator('#verdict')).toContainText('ExternalName → db.legacy.example.com');
  await expect(section(page, 'dns').locator('li[data-dns="db.legacy.example.com"]')).toContainText('CNAME target');
});

test('bob: a team-a Service works; a team-b one is forbidden without leaking; a missing one is 404', async ({
  page,
}, testInfo) => {
  await signIn(page, 'bob@example.com', checkout);
  const errors = watchConsole(page);
  await expect(page.locator('#verdict')).toContainText('Serving');
  await expect(section(page, 'pods').locator('article.pod').first()).toBeVisible();

  const inventory = await admin('/api/v1/namespaces/team-b/services/inventory');
  const res = await page.goto('/c/prod-eu/ns/team-b/svc/inventory');
  expect(res?.status()).toBe(403);
  await expect(page.locator('main')).toContainText("you can't read Services in team-b on prod-eu");
  const html = await page.content();
  expect(html).not.toContain(inventory.spec.clusterIP);
  expect(html).not.toContain('app=inventory');
  // Same answer whether or not the Service exists: existence does not leak.
  const ghost = await page.goto('/c/prod-eu/ns/team-b/svc/no-such-service');
  expect(ghost?.status()).toBe(403);
  await page.screenshot({ path: testInfo.outputPath('service-bob-forbidden.png'), fullPage: true });

  const missing = await page.goto('/c/prod-eu/ns/team-a/svc/no-such-service');
  expect(missing?.status()).toBe(404);
  await expect(page.locator('main')).toContainText('there is no Service team-a/no-such-service in prod-eu');
  expect(await seriousAxeFindings(page)).toEqual([]);
  // The 403 and 404 answers themselves are expected; nothing else may fail.
  expect(errors.filter((e) => !/HTTP 40[34] |status of 40[34]/.test(e))).toEqual([]);
});

test('dave may not list pods: the page says so in place and shows the rest', async ({ page }, testInfo) => {
  await signIn(page, 'dave@example.com', checkout);
  await expect(section(page, 'pods')).toContainText("You can't list pods in team-a on prod-eu.");
  await expect(section(page, 'endpoints').locator('tbody tr').first()).toBeVisible();
  await expect(section(page, 'dns').locator('li[data-dns="checkout.team-a"]')).toBeVisible();
  await expect(section(page, 'events')).toContainText("You can't list events in team-a on prod-eu.");
  await page.screenshot({ path: testInfo.outputPath('service-dave-no-pods.png'), fullPage: true });
});

test('server-rendered without JavaScript; a bad path part is a 400 with its reason', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/services');
  const ok = await page.request.get(checkout);
  expect(ok.status()).toBe(200);
  const html = await ok.text();
  expect(html).toContain('checkout.team-a.svc.cluster.local');
  expect(html).toContain('data-probe="startup" data-kind="grpc"');
  const bad = await page.goto('/c/prod-eu/ns/Team_A/svc/checkout');
  expect(bad?.status()).toBe(400);
  await expect(page.locator('main')).toContainText('namespace "Team_A" may hold only lowercase letters');
  const unknown = await page.goto('/c/nowhere/ns/team-a/svc/checkout');
  expect(unknown?.status()).toBe(404);
  await expect(page.locator('main')).toContainText('no cluster is named "nowhere"');
});

test('the list links each cluster copy to its Service page', async ({ page }) => {
  await signIn(page, 'alice@example.com', '/services?q=team-a%2Fcheckout');
  const row = page.locator('tr[data-service="team-a/checkout"]');
  for (const cluster of ['prod-eu', 'prod-us', 'staging']) {
    await expect(row.getByRole('link', { name: cluster, exact: true })).toHaveAttribute(
      'href',
      `/c/${cluster}/ns/team-a/svc/checkout`,
    );
  }
  await page.goto(String(await row.getByRole('link', { name: 'prod-us', exact: true }).getAttribute('href')));
  await expect(page.locator('h1')).toContainText('prod-us / team-a / checkout');
  await expect(page.locator('#verdict')).toContainText('2/2 endpoints ready');
});
