// Header safety: impersonation headers that a browser sends never reach an apiserver. Checked two ways: the
// answers (carol, who may read nothing, stays at nothing even when her browser claims to be alice in `sre`),
// and each apiserver's audit log of Fleetpane's requests (what the cluster itself saw).
import { expect, test } from '@playwright/test';

import { signIn } from './auth';
import { loadFleet } from './fleet';
import { adminRequest, auditEvents } from './kube';

// Headers a hostile page or proxy could add. alice in `sre` may be impersonated by Fleetpane, so a leak would
// show up as data carol must not see, not only as a refused request.
const HOSTILE: Record<string, string> = {
  'Impersonate-User': 'alice@example.com',
  'Impersonate-Group': 'sre',
  'Impersonate-Uid': 'uid-from-the-browser',
  'Impersonate-Extra-Scopes': 'from-the-browser',
  'Impersonate-Extra-Reason': 'from-the-browser',
};

/** Makes the cluster drop its cached access decisions (an RBAC change), so carol's next read asks it again. */
async function touchRbac(clusterName: string): Promise<void> {
  const name = `fleetpane-e2e-touch-${Date.now()}`;
  const created = await adminRequest(clusterName, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [],
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const deleted = await adminRequest(clusterName, 'DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`);
  expect(deleted.status).toBe(200);
}

test('impersonation headers from the browser never reach an apiserver', async ({ page }) => {
  const fleet = loadFleet();
  const first = fleet.clusters[0].name;
  await signIn(page, 'carol@example.com', '/services');
  const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  expect(csrf).toBeTruthy();

  const since = new Date(Date.now() - 1000);
  await touchRbac(first);
  // Wait for Fleetpane to see the RBAC change (its watch) before asking as carol.
  await page.waitForTimeout(1500);

  // Pages: every navigation carries the hostile headers.
  await page.setExtraHTTPHeaders(HOSTILE);
  await page.goto('/services');
  await expect(page.locator('.showing')).toContainText('showing 0 of 0');
  await expect(page.locator('.empty')).toHaveText('No Service matches.');

  // Server functions: the same headers, plus `Connection` naming one (a hop-by-hop trick), from a client that
  // can send it.
  const base = new URL(page.url()).origin;
  for (const extra of [{}, { Connection: 'Impersonate-User' }, { 'Impersonate-Group': 'system:masters' }]) {
    const answer = await page.request.post('/api/list_services', {
      headers: { ...HOSTILE, ...extra, 'x-csrf-token': csrf!, Origin: base },
      form: { 'req[q]': '' },
    });
    expect(answer.status(), await answer.text()).toBe(200);
    expect(answer.headers()['content-type']).toBe('application/x-postcard');
    // Postcard (app/src/wire.rs): a ServiceListPage starts with its rows' length, then `total`, both varints.
    const listed = await answer.body();
    expect([listed[0], listed[1]], 'no rows, and 0 in total').toEqual([0, 0]);
  }

  // What the clusters saw: Fleetpane asked as carol, and no request it sent carried the browser's uid or extras,
  // a system: name, or system:masters. (Whether it ever acted as alice for carol is what the empty answers
  // above show; other people may use the fleet at the same time, so the log is not asked that.)
  await expect
    .poll(() => auditEvents(first, since).filter((e) => e.impersonatedUser?.username === 'carol@example.com').length, {
      message: `${first}'s audit log shows Fleetpane asking as carol`,
      timeout: 10_000,
    })
    .toBeGreaterThan(0);
  for (const c of fleet.clusters) {
    for (const e of auditEvents(c.name, since)) {
      expect(e.user.username, e.requestURI).toBe('fleetpane');
      const who = e.impersonatedUser;
      if (!who) continue; // Fleetpane's own watches and access reviews
      const what = `${c.name} ${e.verb} ${e.requestURI} as ${who.username}`;
      expect(who.username.startsWith('system:'), what).toBe(false);
      expect(who.groups ?? [], what).not.toContain('system:masters');
      expect((who.groups ?? []).filter((g) => g.startsWith('system:') && g !== 'system:authenticated'), what).toEqual([]);
      expect(who.uid, what).toBeUndefined();
      expect(who.extra, what).toBeUndefined();
    }
    for (const e of auditEvents(c.name, since).filter((x) => x.impersonatedUser?.username === 'carol@example.com')) {
      expect(e.impersonatedUser!.groups ?? []).toEqual(['system:authenticated']);
    }
  }
});
