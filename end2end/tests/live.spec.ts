// Live updates (server push): scaling a Deployment, or making a pod unready, through the admin identity shows
// on the open page within 1 s of the EndpointSlice change, without a reload.
//
// The test makes its own Deployment + Service `live-probe` in team-a on prod-eu, and deletes them at the end.
// The slice change is timed by a watch on the apiserver (as the admin); the page's change by a
// MutationObserver in the page; both read the same machine's clock.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';

import { signIn } from './auth';
import { testenvDir } from './fleet';
import { adminRequest } from './kube';
import { seriousAxeFindings, watchConsole } from './page';

const CLUSTER = 'prod-eu';
const NS = 'team-a';
const NAME = 'live-probe';
/** The push itself must be under this (from the slice change to the DOM). */
const PUSH_BUDGET_MS = 1000;

const deployPath = `/apis/apps/v1/namespaces/${NS}/deployments/${NAME}`;
const servicePath = `/api/v1/namespaces/${NS}/services/${NAME}`;
const slicesPath = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=${encodeURIComponent(
  `kubernetes.io/service-name=${NAME}`,
)}`;

function deployment(replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: NAME, namespace: NS, labels: { app: NAME } },
    spec: {
      replicas,
      selector: { matchLabels: { app: NAME } },
      template: {
        metadata: { labels: { app: NAME } },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'web', image: 'example.invalid/live-probe:1', ports: [{ name: 'http', containerPort: 8080 }] }],
        },
      },
    },
  };
}

const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: NAME, namespace: NS },
  spec: { selector: { app: NAME }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
};

async function ok(what: string, p: Promise<{ status: number; body: any }>, allowed: number[] = []) {
  const r = await p;
  if (r.status >= 300 && !allowed.includes(r.status)) {
    throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  }
  return r;
}

async function cleanUp() {
  await ok('delete deployment', adminRequest(CLUSTER, 'DELETE', deployPath, { propagationPolicy: 'Foreground', gracePeriodSeconds: 0 }), [404]);
  await ok('delete service', adminRequest(CLUSTER, 'DELETE', servicePath), [404]);
}

/** Ready and total endpoints over the Service's slices. */
function count(slices: any[]): { ready: number; total: number } {
  let ready = 0;
  let total = 0;
  for (const s of slices) {
    for (const e of s.endpoints ?? []) {
      total += 1;
      if (e.conditions?.ready !== false) ready += 1;
    }
  }
  return { ready, total };
}

async function sliceCount() {
  const r = await ok('list slices', adminRequest(CLUSTER, 'GET', slicesPath));
  return count(r.body.items ?? []);
}

/**
 * Watches the Service's EndpointSlices as the admin, and resolves with the time (ms since the epoch) at which
 * the first slice event arrives after which the slices hold `ready`/`total` endpoints.
 */
function sliceReaches(ready: number, total: number, timeoutMs = 60_000): { done: Promise<number>; stop: () => void } {
  const facts = JSON.parse(readFileSync(path.join(testenvDir, 'fleet.json'), 'utf8'));
  const c = facts.clusters.find((x: any) => x.name === CLUSTER);
  const slices = new Map<string, any>();
  let req: ReturnType<typeof https.request> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    req?.destroy();
    if (timer) clearTimeout(timer);
  };
  const done = new Promise<number>((resolve, reject) => {
    timer = setTimeout(() => {
      stop();
      reject(new Error(`the slices never reached ${ready}/${total}: ${JSON.stringify(count([...slices.values()]))}`));
    }, timeoutMs);
    req = https.request(
      new URL(`${slicesPath}&watch=1&allowWatchBookmarks=false`, c.api_url),
      {
        method: 'GET',
        ca: readFileSync(c.ca_file),
        cert: readFileSync(c.admin.client_cert_file),
        key: readFileSync(c.admin.client_key_file),
      },
      (res) => {
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = Date.now();
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            const event = JSON.parse(line);
            const key = event.object?.metadata?.name;
            if (!key) continue;
            if (event.type === 'DELETED') slices.delete(key);
            else slices.set(key, event.object);
            const n = count([...slices.values()]);
            if (n.ready === ready && n.total === total) {
              stop();
              resolve(at);
            }
          }
        });
      },
    );
    req.on('error', (e) => {
      if (!String(e).includes('socket hang up')) reject(e);
    });
    req.end();
  });
  return { done, stop };
}

/**
 * Starts watching the page for `selector` to show `text` (exactly, or somewhere in it with `contains`);
 * resolves with the time (ms since the epoch) it first did.
 */
async function domShows(
  page: Page,
  selector: string,
  text: string,
  contains = false,
): Promise<() => Promise<number>> {
  const key = `live-${Math.random().toString(36).slice(2)}`;
  await page.evaluate(
    ({ selector, text, key, contains }) => {
      const w = window as any;
      w[key] = new Promise<number>((resolve) => {
        const check = () => {
          const el = document.querySelector(selector);
          const shown = (el?.textContent ?? '').trim();
          if (el && (contains ? shown.includes(text) : shown === text)) {
            resolve(Date.now());
            return true;
          }
          return false;
        };
        if (check()) return;
        const observer = new MutationObserver(() => {
          if (check()) observer.disconnect();
        });
        observer.observe(document.body, { subtree: true, childList: true, characterData: true });
      });
    },
    { selector, text, key, contains },
  );
  return () => page.evaluate((key) => (window as any)[key] as Promise<number>, key);
}

async function scale(replicas: number) {
  await ok(
    'scale',
    adminRequest(CLUSTER, 'PATCH', deployPath, { spec: { replicas } }, 'application/merge-patch+json'),
  );
}

async function podsOf(): Promise<any[]> {
  const r = await ok(
    'list pods',
    adminRequest(CLUSTER, 'GET', `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(`app=${NAME}`)}`),
  );
  return (r.body.items ?? []).filter((p: any) => !p.metadata.deletionTimestamp);
}

/** Makes one pod fail readiness (the node agent's annotation); returns its name. */
async function makeUnready(pod: string) {
  await ok(
    'annotate pod',
    adminRequest(
      CLUSTER,
      'PATCH',
      `/api/v1/namespaces/${NS}/pods/${pod}`,
      { metadata: { annotations: { 'testenv.fleetpane/readiness': 'fail' } } },
      'application/merge-patch+json',
    ),
  );
}

/**
 * Does `change`, then measures slice change → DOM change; returns the push latency in ms. The DOM change is
 * `selector` showing `ready/total` (exactly, or followed by `suffix` somewhere in its text).
 */
async function timed(
  page: Page,
  selector: string,
  want: { ready: number; total: number },
  change: () => Promise<void>,
  suffix?: string,
): Promise<number> {
  const slice = sliceReaches(want.ready, want.total);
  const shown = `${want.ready}/${want.total}`;
  const dom = await domShows(page, selector, suffix === undefined ? shown : `${shown}${suffix}`, suffix !== undefined);
  try {
    await change();
    const sliceAt = await slice.done;
    const domAt = await Promise.race([
      dom(),
      new Promise<number>((_, reject) =>
        setTimeout(() => reject(new Error(`the page did not show ${want.ready}/${want.total} within 10 s`)), 10_000),
      ),
    ]);
    return domAt - sliceAt;
  } finally {
    slice.stop();
  }
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  await cleanUp();
  // A leftover from an aborted run must be gone before it is made again.
  await expect.poll(async () => (await adminRequest(CLUSTER, 'GET', deployPath)).status, { timeout: 30_000 }).toBe(404);
  await ok('create deployment', adminRequest(CLUSTER, 'POST', `/apis/apps/v1/namespaces/${NS}/deployments`, deployment(1)));
  await ok('create service', adminRequest(CLUSTER, 'POST', `/api/v1/namespaces/${NS}/services`, service));
  await expect.poll(sliceCount, { timeout: 60_000 }).toEqual({ ready: 1, total: 1 });
});

test.afterAll(async () => {
  await cleanUp();
});

test('the Services list follows scaling and an unready pod within 1 s, without a reload', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  // The page refetches once when its stream opens (changes between the server's render and then); the changes
  // below wait for that first refetch, so each measures one change.
  const settled = page.waitForResponse((r) => r.url().endsWith('/api/list_services'), { timeout: 60_000 });
  await signIn(page, 'alice@example.com', `/services?q=${NAME}`);
  const errors = watchConsole(page);
  const row = page.locator(`tr[data-service="${NS}/${NAME}"]`);
  const cell = `tr[data-service="${NS}/${NAME}"] td.num.mono`;
  await expect(row.locator('td.num.mono').first()).toHaveText('1/1');
  const indicator = page.locator('.live-indicator');
  await expect(indicator).toHaveAttribute('data-live', /^(live|stale|syncing)$/);
  await expect(indicator).toContainText('live');
  await settled;

  // Proof that nothing reloads: a marker on the window, and a half-typed search that must survive.
  await page.evaluate(() => ((window as any).__notReloaded = true));
  const search = page.getByRole('searchbox', { name: 'Search' });
  await search.fill(`${NAME} typing`);

  const up = await timed(page, cell, { ready: 3, total: 3 }, () => scale(3));
  testInfo.annotations.push({ type: 'push latency, scale 1→3', description: `${up} ms` });
  console.log(`list: slice change to page, scale 1→3: ${up} ms`);
  expect(up, 'slice change to page, scaling up').toBeLessThan(PUSH_BUDGET_MS);
  await page.screenshot({ path: testInfo.outputPath('live-list-scaled.png'), fullPage: true });

  const [victim] = await podsOf();
  const unready = await timed(page, cell, { ready: 2, total: 3 }, () => makeUnready(victim.metadata.name));
  testInfo.annotations.push({ type: 'push latency, pod unready', description: `${unready} ms` });
  console.log(`list: slice change to page, pod unready: ${unready} ms`);
  expect(unready, 'slice change to page, pod unready').toBeLessThan(PUSH_BUDGET_MS);

  expect(await page.evaluate(() => (window as any).__notReloaded)).toBe(true);
  await expect(search).toHaveValue(`${NAME} typing`);
  await expect(page).toHaveURL(new RegExp(`/services\\?q=${NAME}$`));
  expect(await seriousAxeFindings(page)).toEqual([]);
  expect(errors).toEqual([]);
});

test('an open Service page follows scaling and an unready pod within 1 s, without a reload', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const before = await sliceCount();
  const settled = page.waitForResponse((r) => r.url().endsWith('/api/service_detail'), { timeout: 60_000 });
  await signIn(page, 'alice@example.com', `/c/${CLUSTER}/ns/${NS}/svc/${NAME}`);
  const errors = watchConsole(page);
  const verdict = '.verdict-text';
  await expect(page.locator(verdict)).toContainText(`${before.ready}/${before.total} endpoints`);
  await expect(page.locator('.live-indicator')).toContainText('live');
  await settled;
  await page.evaluate(() => ((window as any).__notReloaded = true));

  const more = { ready: before.ready + 1, total: before.total + 1 };
  const up = await timed(page, verdict, more, () => scale(more.total), ' endpoints');
  console.log(`service page: slice change to page, scale ${before.total}→${more.total}: ${up} ms`);
  testInfo.annotations.push({ type: 'push latency, scale up', description: `${up} ms` });
  expect(up, 'slice change to page, scaling up').toBeLessThan(PUSH_BUDGET_MS);
  await expect(page.locator('tr[data-endpoint][data-ready="true"]')).toHaveCount(more.ready);

  const ready = (await podsOf()).filter((p) => p.metadata.annotations?.['testenv.fleetpane/readiness'] !== 'fail');
  const less = { ready: more.ready - 1, total: more.total };
  const unready = await timed(page, verdict, less, () => makeUnready(ready[0].metadata.name), ' endpoints');
  console.log(`service page: slice change to page, pod unready: ${unready} ms`);
  testInfo.annotations.push({ type: 'push latency, pod unready', description: `${unready} ms` });
  expect(unready, 'slice change to page, pod unready').toBeLessThan(PUSH_BUDGET_MS);
  await expect(page.locator('tr[data-endpoint][data-ready="false"]')).toHaveCount(less.total - less.ready);

  expect(await page.evaluate(() => (window as any).__notReloaded)).toBe(true);
  await page.screenshot({ path: testInfo.outputPath('live-service-page.png'), fullPage: true });
  // Only the indicator is this test's business; the page's own sections have their own axe checks.
  const axe = await new AxeBuilder({ page }).include('.live-indicator').analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
  expect(errors).toEqual([]);
});

test('the live stream needs a session, refuses a bad query, and sends no object data', async ({ page, request }) => {
  const anonymous = await request.get('/api/live', { headers: { cookie: '' } });
  expect(anonymous.status()).toBe(401);

  await signIn(page, 'bob@example.com', '/services');
  const bad = await page.request.get('/api/live?cluster=No_Such');
  expect(bad.status()).toBe(400);
  expect(await bad.text()).toContain('not a valid cluster name');

  // Read the first part of the stream in the page (fetch streams; the browser holds the session cookie).
  const first = await page.evaluate(async () => {
    const ctrl = new AbortController();
    const res = await fetch('/api/live?kinds=Service,EndpointSlice', { signal: ctrl.signal });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    ctrl.abort();
    return { status: res.status, type: res.headers.get('content-type'), text: new TextDecoder().decode(value) };
  });
  expect(first.status).toBe(200);
  expect(first.type).toBe('text/event-stream');
  expect(first.text).toMatch(/^event: state\ndata: \S+ (live|syncing|stale|unreachable)/);
  // Only cluster names and states: no namespaces, no object names.
  expect(first.text).not.toContain('team-');
});
