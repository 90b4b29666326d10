import { execSync } from 'node:child_process';

import { expect, request as playwrightRequest, test } from '@playwright/test';

import { demoUser, loginAtIdp, SESSION_COOKIE, signIn } from './auth';
import { loadFleet } from './fleet';

const baseURL = process.env.FLEETPANE_URL ?? 'http://127.0.0.1:3000';

test('alice follows a deep link, signs in at the IdP, lands there, sees her groups; logout ends the session', async ({
  page,
}, testInfo) => {
  const alice = demoUser('alice@example.com');
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));

  // A deep link without a session goes to Fleetpane's sign-in page, which keeps where she wanted to go.
  await page.goto('/whoami');
  await expect(page).toHaveURL(/\/auth\/signin\?return_to=%2Fwhoami$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('signin-page.png'), fullPage: true });

  // The IdP's real login page.
  await page.getByRole('link', { name: 'Sign in with Local IdP' }).click();
  expect(new URL(page.url()).origin).toBe(new URL(loadFleet().idp.issuer).origin);
  await loginAtIdp(page, alice);

  // Back on the page she asked for.
  await page.waitForURL((url) => url.pathname === '/whoami');
  await expect(page.getByRole('heading', { level: 1, name: 'Who am I' })).toBeVisible();
  await expect(page.locator('#whoami-email')).toHaveText(alice.email);
  await expect(page.locator('#whoami-provider')).toHaveText('local');
  await expect(page.locator('tr[data-group="sre"]')).toContainText('ID token claim');
  await expect(page.locator('#user-email')).toHaveText(alice.email);
  await expect(page.locator('#user-groups')).toContainText('sre');
  await page.screenshot({ path: testInfo.outputPath('whoami-alice.png'), fullPage: true });

  // The session cookie: HttpOnly, SameSite=Lax, Path=/ (not Secure: plain-http loopback dev).
  const cookies = await page.context().cookies(baseURL);
  const session = cookies.find((c) => c.name === SESSION_COOKIE);
  expect(session, `cookies: ${cookies.map((c) => c.name).join(', ')}`).toBeTruthy();
  expect(session!.httpOnly).toBe(true);
  expect(session!.sameSite).toBe('Lax');
  expect(session!.path).toBe('/');

  // While signed in, the old cookie works from a fresh client.
  const replay = await playwrightRequest.newContext({
    baseURL,
    extraHTTPHeaders: { cookie: `${SESSION_COOKIE}=${session!.value}` },
  });
  try {
    const before = await replay.get('/whoami', { maxRedirects: 0 });
    expect(before.status()).toBe(200);

    // Sign out: Fleetpane drops the session, the IdP ends its own, and she is back at sign-in.
    await page.locator('#signout').click();
    await page.waitForURL(/\/auth\/signin/);
    await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();

    // The old cookie no longer works: pages go to sign-in, server functions answer 401.
    const after = await replay.get('/whoami', { maxRedirects: 0 });
    expect(after.status()).toBe(303);
    expect(after.headers()['location']).toContain('/auth/signin');
    const api = await replay.post('/api/whoami', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      maxRedirects: 0,
    });
    expect(api.status()).toBe(401);
  } finally {
    await replay.dispose();
  }

  // And the browser itself is signed out too: the deep link asks to sign in again.
  await page.goto('/whoami');
  await expect(page).toHaveURL(/\/auth\/signin/);
  expect(errors).toEqual([]);
});

test('a return path to another origin is not followed (no open redirect)', async ({ page }) => {
  await page.goto('/auth/signin?return_to=%2F%2Fevil.example%2Fx');
  const href = await page.getByRole('link', { name: 'Sign in with Local IdP' }).getAttribute('href');
  expect(href).toBe('/auth/login/local');
});

test('a forged callback gets a clear page with a way forward, and no session', async ({ page }) => {
  const res = await page.goto('/auth/callback/local?code=forged&state=forged');
  expect(res?.status()).toBe(400);
  await expect(page.getByRole('heading', { level: 1, name: 'Sign-in failed' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Try signing in again' })).toBeVisible();
  const cookies = await page.context().cookies(baseURL);
  expect(cookies.find((c) => c.name === SESSION_COOKIE)).toBeUndefined();
});

// Needs a way to restart the Fleetpane under test: FLEETPANE_RESTART_CMD, a shell command that stops it and
// starts it again on the same config (./dev test sets it). Without it the test fails: it must not pass unseen.
test('a session survives a Fleetpane restart (SQLite store)', async ({ page }) => {
  const restart = process.env.FLEETPANE_RESTART_CMD;
  if (!restart) throw new Error('set FLEETPANE_RESTART_CMD to a command that restarts Fleetpane (./dev test does)');
  await signIn(page, 'alice@example.com', '/whoami');
  execSync(restart, { stdio: 'inherit', timeout: 60_000 });
  // Wait until it answers again.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await page.request
      .get('/healthz')
      .then((r) => r.ok())
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('Fleetpane did not come back within 30 s');
    await page.waitForTimeout(250);
  }
  await page.goto('/whoami');
  await expect(page).toHaveURL(/\/whoami$/);
  await expect(page.locator('#whoami-email')).toHaveText('alice@example.com');
});
