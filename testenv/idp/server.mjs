// Local OpenID provider for the Fleetpane test fleet.
//
// Usage: node server.mjs <config.json>
//
// Built on Panva's oidc-provider. Everything comes from the JSON config file, which
// testenv (Go, internal/idp) writes into the state dir:
//
// {
//   "issuer": "http://127.0.0.1:15556",      // plain http on loopback
//   "listen": "127.0.0.1:15556",              // host:port to bind (loopback only)
//   "title": "Local IdP",                     // shown on the pages
//   "keys_file": "/abs/state/idp/keys.json",  // signing + cookie keys; created when missing
//   "id_token_ttl_seconds": 300,
//   "access_token_ttl_seconds": 300,
//   "refresh_token_ttl_seconds": 86400,
//   "session_ttl_seconds": 86400,
//   "auto_consent": true,                     // false: show a one-click consent page
//   "auto_logout": true,                      // RP-initiated logout page submits itself
//   "clients": [ { "client_id": "fleetpane", "client_secret_file": "/abs/...",
//                  "redirect_uris": [...], "post_logout_redirect_uris": [...] } ],
//   "users": [ { "email": "alice@example.com", "password": "alice-password",
//                "groups": ["sre"], "name": "Alice", "sub": "alice" } ]
// }
//
// Pages served next to the provider's own endpoints:
//   GET  /interaction/<uid>          login form (email + password), or consent
//   POST /interaction/<uid>/login    form fields: email, password
//   POST /interaction/<uid>/confirm  consent (only when auto_consent is false)
//   POST /interaction/<uid>/abort    "Cancel": access_denied back to the client
//   GET  /healthz                    "ok"

import { readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import Provider from 'oidc-provider';

function die(msg) {
  process.stderr.write(`idp: ${msg}\n`);
  process.exit(2);
}

function log(msg) {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
}

const configPath = process.argv[2];
if (!configPath) die('usage: node server.mjs <config.json>');

let cfg;
try {
  cfg = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (err) {
  die(`cannot read config ${configPath}: ${err.message}`);
}

// ---- validate config ---------------------------------------------------------------------
const problems = [];
if (typeof cfg.issuer !== 'string' || !/^https?:\/\/[^/]+$/.test(cfg.issuer)) {
  problems.push(`issuer: ${JSON.stringify(cfg.issuer)} must be an http(s) origin without a path`);
}
const listenMatch = typeof cfg.listen === 'string' && cfg.listen.match(/^(.+):(\d+)$/);
if (!listenMatch) problems.push(`listen: ${JSON.stringify(cfg.listen)} must be host:port`);
if (!Array.isArray(cfg.clients) || cfg.clients.length === 0) problems.push('clients: at least one client is required');
if (!Array.isArray(cfg.users) || cfg.users.length === 0) problems.push('users: at least one user is required');
if (typeof cfg.keys_file !== 'string' || !cfg.keys_file) problems.push('keys_file: required');
if (problems.length) die(`invalid config ${configPath}:\n  ${problems.join('\n  ')}`);

const listenHost = listenMatch[1].replace(/^\[|\]$/g, '');
const listenPort = Number(listenMatch[2]);
const title = cfg.title || 'Local IdP';
const num = (v, d) => (Number.isFinite(v) && v > 0 ? v : d);
const idTokenTTL = num(cfg.id_token_ttl_seconds, 300);
const accessTokenTTL = num(cfg.access_token_ttl_seconds, 300);
const refreshTokenTTL = num(cfg.refresh_token_ttl_seconds, 24 * 3600);
const sessionTTL = num(cfg.session_ttl_seconds, 24 * 3600);
const autoConsent = cfg.auto_consent !== false;
const autoLogout = cfg.auto_logout !== false;

const clients = cfg.clients.map((c, i) => {
  let secret = c.client_secret;
  if (c.client_secret_file) {
    try {
      secret = readFileSync(c.client_secret_file, 'utf8').trim();
    } catch (err) {
      die(`clients[${i}].client_secret_file: ${err.message}`);
    }
  }
  if (!c.client_id) die(`clients[${i}].client_id: required`);
  if (!secret) die(`clients[${i}]: client_secret or client_secret_file required`);
  return {
    client_id: c.client_id,
    client_secret: secret,
    client_name: c.client_name || c.client_id,
    redirect_uris: c.redirect_uris || [],
    post_logout_redirect_uris: c.post_logout_redirect_uris || [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // client_secret_post is accepted as well: oidc-provider treats basic/post as one family.
    token_endpoint_auth_method: 'client_secret_basic',
  };
});

const users = new Map(); // by accountId (sub)
const usersByEmail = new Map();
for (const [i, u] of cfg.users.entries()) {
  if (!u.email || typeof u.password !== 'string') die(`users[${i}]: email and password required`);
  const sub = u.sub || u.email.split('@')[0];
  const user = {
    sub,
    email: u.email,
    password: u.password,
    groups: Array.isArray(u.groups) ? u.groups : [],
    name: u.name || sub.charAt(0).toUpperCase() + sub.slice(1),
  };
  if (users.has(sub)) die(`users[${i}].sub: duplicate ${sub}`);
  users.set(sub, user);
  usersByEmail.set(u.email.toLowerCase(), user);
}

// ---- keys (persisted so restarts keep tokens and sessions valid) -------------------------
function loadOrCreateKeys(path) {
  if (existsSync(path)) {
    const k = JSON.parse(readFileSync(path, 'utf8'));
    if (k?.jwks?.keys?.length && k?.cookie_keys?.length) return k;
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
  const k = { jwks: { keys: [jwk] }, cookie_keys: [randomBytes(32).toString('hex')] };
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(k, null, 2), { mode: 0o600 });
  renameSync(tmp, path);
  return k;
}
const keys = loadOrCreateKeys(cfg.keys_file);

// ---- HTML helpers ------------------------------------------------------------------------
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(heading, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(heading)} · ${esc(title)}</title>
<link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:360px;margin:64px auto;background:#fff;border-radius:8px;padding:24px 28px;box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.25rem;margin:0 0 4px}p.sub{margin:0 0 20px;color:#5b6475;font-size:.9rem}
label{display:block;font-size:.85rem;margin:12px 0 4px}
input[type=email],input[type=password],input[type=text]{box-sizing:border-box;width:100%;padding:8px;font-size:1rem;border:1px solid #b9c0cc;border-radius:4px}
button{margin-top:18px;width:100%;padding:9px;font-size:1rem;border:0;border-radius:4px;background:#2855c8;color:#fff;cursor:pointer}
button.secondary{background:#e5e8ee;color:#1d2330;margin-top:8px}
.error{background:#fde8e8;color:#8a1c1c;padding:8px;border-radius:4px;font-size:.9rem}
ul{padding-left:20px}code{font-family:ui-monospace,monospace}
</style>
</head>
<body><main>
<h1>${esc(heading)}</h1>
${body}
</main></body>
</html>`;
}

function send(res, status, html, extraHeaders = {}) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    ...extraHeaders,
  });
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// ---- provider ----------------------------------------------------------------------------
const configuration = {
  clients,
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  jwks: keys.jwks,
  cookies: { keys: keys.cookie_keys },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Put the claims of the granted scopes into the ID token itself (not only UserInfo).
  conformIdTokenClaims: false,
  pkce: { required: () => true }, // S256 is the only method oidc-provider accepts
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        const autoSubmit = autoLogout
          ? '<script>document.getElementById("op.logoutForm").submit()</script>'
          : '';
        // The form from oidc-provider holds the xsrf field; add logout=yes so that an automatic
        // submit (or a plain HTTP client posting the form) signs out.
        const withLogout = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
        ctx.type = 'html';
        ctx.body = page('Sign out', `<p class="sub">Sign out of ${esc(title)}?</p>
${withLogout}
<button type="submit" form="op.logoutForm" id="logout-confirm">Yes, sign me out</button>
${autoSubmit}`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.type = 'html';
        ctx.body = page('Signed out', `<p class="sub">You are signed out of ${esc(title)}.</p>`);
      },
    },
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async findAccount(_ctx, id) {
    const user = users.get(id);
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: user.sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          preferred_username: user.sub,
          groups: user.groups,
        };
      },
    };
  },
  ttl: {
    IdToken: idTokenTTL,
    AccessToken: accessTokenTTL,
    AuthorizationCode: 60,
    Interaction: 3600,
    Grant: refreshTokenTTL,
    Session: sessionTTL,
    RefreshToken: refreshTokenTTL,
  },
  // Issue a refresh token whenever offline_access was granted (oidc-provider drops
  // offline_access from the request unless there is no prompt parameter or prompt has consent).
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && code.scopes.has('offline_access'),
  async renderError(ctx, out, _error) {
    ctx.type = 'html';
    ctx.body = page('Sign-in error', `<div class="error" id="error"><code>${esc(out.error)}</code>: ${esc(out.error_description)}</div>`);
  },
};

const provider = new Provider(cfg.issuer, configuration);

for (const ev of ['server_error', 'authorization.error', 'grant.error', 'end_session.error', 'userinfo.error', 'introspection.error', 'revocation.error']) {
  provider.on(ev, (...args) => {
    const err = args.find((a) => a instanceof Error);
    log(`event ${ev}: ${err ? `${err.name}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}` : ''}`);
  });
}
provider.on('grant.success', (ctx) => log(`grant.success client=${ctx.oidc.client?.clientId}`));

// ---- interactions (login + consent) ------------------------------------------------------
function loginPage(uid, details, { email = '', error = '' } = {}) {
  const client = details.params.client_id;
  return page(`Sign in to ${title}`, `<p class="sub">to continue to <code>${esc(client)}</code></p>
${error ? `<div class="error" id="error" role="alert">${esc(error)}</div>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" id="login-form" autocomplete="off">
<label for="email">Email</label>
<input type="email" id="email" name="email" required autofocus value="${esc(email)}">
<label for="password">Password</label>
<input type="password" id="password" name="password" required>
<button type="submit" id="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" class="secondary" id="cancel">Cancel</button></form>`);
}

function consentPage(uid, details) {
  const scopes = String(details.params.scope || '').split(' ').filter(Boolean);
  return page('Allow access?', `<p class="sub"><code>${esc(details.params.client_id)}</code> asks for:</p>
<ul>${scopes.map((s) => `<li><code>${esc(s)}</code></li>`).join('')}</ul>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit" id="allow">Allow</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" class="secondary" id="deny">Deny</button></form>`);
}

async function grantConsent(req, res, details) {
  const { prompt: { details: missing }, params, session } = details;
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
  }
  if (!grant) {
    grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  }
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  const consent = {};
  if (!details.grantId) consent.grantId = grantId;
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function handleInteraction(req, res, url) {
  const parts = url.pathname.split('/').filter(Boolean); // ['interaction', uid, action?]
  const [, uid, action] = parts;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    send(res, 400, page('Sign-in error', `<div class="error" id="error">This sign-in request is no longer valid (${esc(err.message)}). Start again from the application.</div>`));
    return;
  }
  if (details.uid !== uid) {
    send(res, 400, page('Sign-in error', '<div class="error" id="error">Interaction mismatch. Start again from the application.</div>'));
    return;
  }
  const prompt = details.prompt.name;

  if (req.method === 'GET' && !action) {
    if (prompt === 'login') {
      send(res, 200, loginPage(uid, details));
      return;
    }
    if (prompt === 'consent') {
      if (autoConsent) {
        await grantConsent(req, res, details);
        return;
      }
      send(res, 200, consentPage(uid, details));
      return;
    }
    send(res, 400, page('Sign-in error', `<div class="error" id="error">Unsupported prompt ${esc(prompt)}</div>`));
    return;
  }

  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const email = (form.get('email') || '').trim();
    const password = form.get('password') || '';
    const user = usersByEmail.get(email.toLowerCase());
    if (!user || user.password !== password) {
      log(`login failed for ${JSON.stringify(email)}`);
      send(res, 401, loginPage(uid, details, { email, error: 'Invalid email or password.' }));
      return;
    }
    log(`login ok for ${user.email}`);
    await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
    return;
  }

  if (req.method === 'POST' && action === 'confirm' && prompt === 'consent') {
    await readForm(req);
    await grantConsent(req, res, details);
    return;
  }

  if (req.method === 'POST' && action === 'abort') {
    await readForm(req);
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }

  send(res, 405, page('Sign-in error', '<div class="error" id="error">Unsupported request.</div>'));
}

// ---- HTTP server -------------------------------------------------------------------------
const providerHandler = provider.callback();

const server = http.createServer((req, res) => {
  const started = Date.now();
  res.on('finish', () => {
    const path = (req.url || '').split('?')[0];
    log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`);
  });
  const url = new URL(req.url || '/', cfg.issuer);
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  if (url.pathname === '/favicon.ico') {
    res.writeHead(204);
    res.end();
    return;
  }
  if (url.pathname.startsWith('/interaction/')) {
    handleInteraction(req, res, url).catch((err) => {
      log(`interaction error: ${err.stack || err}`);
      if (!res.headersSent) send(res, 500, page('Sign-in error', `<div class="error" id="error">${esc(err.message)}</div>`));
      else res.end();
    });
    return;
  }
  providerHandler(req, res);
});

server.on('error', (err) => die(`cannot listen on ${cfg.listen}: ${err.message}`));
server.listen(listenPort, listenHost, () => {
  log(`idp listening on ${cfg.listen}, issuer ${cfg.issuer}, ${clients.length} client(s), ${users.size} user(s), node ${process.version}`);
});

function shutdown(sig) {
  log(`received ${sig}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
