// Signing in to Fleetpane through the local IdP's real login page (testenv/idp, Panva's oidc-provider).
import { expect, type Page } from '@playwright/test';

import { loadFleet, type FleetUser } from './fleet';

/** The session cookie's name: the fleet serves Fleetpane over plain http, so no `__Host-` prefix. */
export const SESSION_COOKIE = 'fleetpane-session';

/** A demo user of the fleet's IdP (alice is in `sre`). */
export function demoUser(email = 'alice@example.com'): FleetUser {
  const user = loadFleet().idp.users.find((u) => u.email === email);
  if (!user) throw new Error(`the fleet's IdP has no user ${email}`);
  return user;
}

/**
 * On the IdP's login page: types the user's email and password and submits. Consent is automatic in the
 * fleet (auto_consent), so the browser goes straight back to Fleetpane's callback.
 */
export async function loginAtIdp(page: Page, user: FleetUser): Promise<void> {
  const issuer = new URL(loadFleet().idp.issuer).origin;
  await page.waitForURL((url) => url.origin === issuer);
  await page.locator('#email').fill(user.email);
  await page.locator('#password').fill(user.password);
  await page.locator('#submit').click();
}

/**
 * Opens `target` (default `/`) as a signed-out user, goes through Fleetpane's sign-in page and the IdP's
 * login page, and waits until Fleetpane shows `target`.
 */
export async function signIn(page: Page, email = 'alice@example.com', target = '/'): Promise<void> {
  const user = demoUser(email);
  await page.goto(target);
  await expect(page).toHaveURL(/\/auth\/signin/);
  await page.getByRole('link', { name: /^Sign in with / }).first().click();
  await loginAtIdp(page, user);
  const want = new URL(target, page.url()).pathname;
  await page.waitForURL((url) => url.pathname === want && !url.pathname.startsWith('/auth/'));
  await expect(page.locator('#user-email')).toHaveText(user.email);
}
