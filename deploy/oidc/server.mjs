// Strongroom's local OpenID Connect provider, for development and tests only.
//
// It wraps the `oidc-provider` npm package with one confidential client
// (authorization code + PKCE S256), a handful of demo users with groups, and
// the package's built-in development login and consent pages
// ("devInteractions"). Those pages accept ANY password: whoever types a
// known login name is signed in as that user. Never expose this server
// beyond loopback or use it for anything but development and tests.
//
// Configuration comes from environment variables; see README.md.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { interactionPolicy } from 'oidc-provider';

const HERE = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

function positiveInt(name, fallback) {
  const raw = env(name, String(fallback));
  if (!/^\d+$/.test(raw) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function list(name, fallback) {
  return env(name, fallback)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const PORT = positiveInt('OIDC_PORT', 5556);
if (PORT > 65535) {
  throw new Error(`OIDC_PORT must be at most 65535, got ${PORT}`);
}
const HOST = env('OIDC_HOST', '127.0.0.1');
const ISSUER = env('OIDC_ISSUER', `http://127.0.0.1:${PORT}`);
const CLIENT_ID = env('OIDC_CLIENT_ID', 'strongroom');
const CLIENT_SECRET = env('OIDC_CLIENT_SECRET', 'strongroom-local-secret');
const REDIRECT_URIS = list(
  'OIDC_REDIRECT_URIS',
  'http://127.0.0.1:3000/auth/callback,http://localhost:3000/auth/callback',
);
const POST_LOGOUT_REDIRECT_URIS = list(
  'OIDC_POST_LOGOUT_REDIRECT_URIS',
  'http://127.0.0.1:3000/,http://localhost:3000/',
);
const ID_TOKEN_TTL = positiveInt('OIDC_ID_TOKEN_TTL', 3600);
// Relative paths in these two variables are taken from the working directory.
const STATE_DIR = resolve(env('OIDC_STATE_DIR', join(HERE, '.state')));
const JWKS_FILE = resolve(env('OIDC_JWKS_FILE', join(STATE_DIR, 'jwks.json')));

// ---------------------------------------------------------------------------
// Demo users. The account id is the login name; unknown names have no account.
// ---------------------------------------------------------------------------

const USERS = {
  alice: { name: 'Alice Anders', email: 'alice@example.com', groups: ['team-a-editors'] },
  bob: { name: 'Bob Berg', email: 'bob@example.com', groups: ['team-b-editors'] },
  carol: { name: 'Carol Chen', email: 'carol@example.com', groups: ['team-a-viewers'] },
  dave: { name: 'Dave Dietrich', email: 'dave@example.com', groups: ['auditors'] },
  eve: { name: 'Eve Evans', email: 'eve@example.com', groups: [] },
  // A hostile claim: the backend must drop every `system:` group.
  mallory: {
    name: 'Mallory',
    email: 'mallory@example.com',
    groups: ['system:masters', 'team-a-viewers'],
  },
  // An approver for guarded namespaces who works in team-a (issue 18).
  grace: {
    name: 'Grace Gruber',
    email: 'grace@example.com',
    groups: ['team-a-editors', 'secret-approvers'],
  },
  // An approver with no access to any secret.
  henry: { name: 'Henry Holt', email: 'henry@example.com', groups: ['secret-approvers'] },
  // Like alice, for the tests that change an account mid-session.
  frank: { name: 'Frank Fischer', email: 'frank@example.com', groups: ['team-a-editors'] },
  // Hostile accounts for the tests: each claims an identity it must not get.
  // Alice's address, never verified (registered by someone else).
  mallet: {
    name: 'Mallet',
    email: 'alice@example.com',
    emailVerified: false,
    groups: ['team-a-editors'],
  },
  // Groups that become `system:masters` / `team-a-editors` once an HTTP
  // server trims the header value.
  spacey: {
    name: 'Spacey',
    email: 'spacey@example.com',
    groups: [' system:masters', 'team-a-viewers'],
  },
  trailer: { name: 'Trailer', email: 'trailer@example.com', groups: ['team-a-editors '] },
  // Alice's address with a trailing tab.
  tabby: { name: 'Tabby', email: 'alice@example.com\t', groups: [] },
  // No username at all: no email claim, or an empty one.
  nameless: { name: 'Nameless', email: undefined, groups: ['team-a-editors'] },
  blank: { name: 'Blank', email: '', groups: ['team-a-editors'] },
  // From another tenant (its `hd` claim differs from everyone else's).
  outsider: {
    name: 'Outsider',
    email: 'outsider@elsewhere.example',
    hd: 'elsewhere.example',
    groups: ['team-a-editors'],
  },
};

function findAccount(_ctx, accountId) {
  if (typeof accountId !== 'string' || !Object.hasOwn(USERS, accountId) || USERS[accountId].disabled) {
    return undefined;
  }
  const user = USERS[accountId];
  return {
    accountId,
    // oidc-provider filters these down to what the granted scopes allow.
    claims() {
      const claims = {
        sub: accountId,
        name: user.name,
        preferred_username: accountId,
        hd: user.hd ?? 'example.com',
        email: user.email,
        email_verified: user.emailVerified ?? true,
        groups: [...user.groups],
      };
      if (user.email === undefined) {
        delete claims.email;
        delete claims.email_verified;
      }
      return claims;
    },
  };
}

// The development login form accepts any name and puts it into the session.
// For a name without an account, ask for the login again instead of failing
// later with a server error: the browser sees the login form once more.
function interactionPolicyWithKnownAccounts() {
  const { Check, base } = interactionPolicy;
  const policy = base();
  policy.get('login').checks.add(
    new Check('unknown_account', 'the signed-in login name has no account', 'login_required', (ctx) => {
      const { oidc } = ctx;
      return oidc.session.accountId !== undefined && oidc.account === undefined
        ? Check.REQUEST_PROMPT
        : Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}

// ---------------------------------------------------------------------------
// Signing keys: an RSA key generated on first start and kept as a JWKS file,
// so tokens signed before a restart still verify after it.
// ---------------------------------------------------------------------------

// RFC 7638 JWK thumbprint of an RSA public key, used as its `kid`.
function rsaThumbprint({ e, n }) {
  return createHash('sha256')
    .update(JSON.stringify({ e, kty: 'RSA', n }))
    .digest('base64url');
}

function loadOrCreateJwks(file) {
  try {
    const jwks = JSON.parse(readFileSync(file, 'utf8'));
    if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) {
      throw new Error(`${file} holds no keys`);
    }
    return jwks;
  } catch (error) {
    if (error.code !== 'ENOENT') {
      throw new Error(`cannot use signing keys from ${file}: ${error.message}`);
    }
  }

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const jwks = { keys: [{ ...jwk, kid: rsaThumbprint(jwk), use: 'sig', alg: 'RS256' }] };

  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  renameSync(partial, file);
  return jwks;
}

// ---------------------------------------------------------------------------
// Pages the provider renders itself (logout, errors). The package's defaults
// load a web font from the internet; these are plain and self-contained.
// ---------------------------------------------------------------------------

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:22rem;color:#222}
button{display:block;width:100%;margin:.5rem 0;padding:.5rem;font-size:1rem;cursor:pointer}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>`;
}

// `form` is the provider's hidden form (id "op.logoutForm", with its xsrf
// token); the buttons submit it. Button texts match the package's defaults.
function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = page(
    'Sign out',
    `<p>Do you want to sign out from ${escapeHtml(ctx.host)}?</p>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<p>Your sign-out was successful.</p>');
}

function renderError(ctx, out) {
  ctx.type = 'html';
  const rows = Object.entries(out)
    .map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: ${escapeHtml(value)}</p>`)
    .join('\n');
  ctx.body = page('Error', rows);
}

// ---------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      client_name: 'Strongroom',
      // oidc-provider accepts client_secret_post as well for a client
      // registered with client_secret_basic (and the other way round).
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: REDIRECT_URIS,
      post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
      id_token_signed_response_alg: 'RS256',
      // Every ID token says when the user last authenticated, as most
      // IdPs do once asked (Strongroom's step-up guard needs it).
      require_auth_time: true,
    },
  ],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  // S256 is the only method oidc-provider 9 supports; make PKCE mandatory.
  pkce: { required: () => true },
  responseTypes: ['code'],
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    // `hd` (the tenant, as Google Workspace names it) lets tests require a claim.
    profile: ['name', 'preferred_username', 'hd'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Put the claims granted through scopes (groups, email, ...) into the ID
  // token too, not only into the userinfo response.
  conformIdTokenClaims: false,
  findAccount,
  // Refresh tokens for clients allowed the grant (Strongroom re-validates
  // sessions with them once the access token has expired).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  interactions: { policy: interactionPolicyWithKnownAccounts() },
  jwks: loadOrCreateJwks(JWKS_FILE),
  cookies: {
    // Per process: sessions live in memory and end with the process anyway.
    keys: [randomBytes(32).toString('base64url')],
  },
  features: {
    // Built-in login and consent pages; any password is accepted.
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    userinfo: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    registration: { enabled: false },
    // Not used by Strongroom; keep the surface small.
    pushedAuthorizationRequests: { enabled: false },
    dPoP: { enabled: false },
  },
  renderError,
  // Token endpoint and userinfo are called server-to-server, never from a page.
  clientBasedCORS: () => false,
  // Nothing here needs to fetch remote documents (client jwks_uri,
  // sector_identifier_uri, request_uri, ...): refuse any outbound request.
  fetch: () => Promise.reject(new Error('outbound HTTP is disabled in this provider')),
  // The package's default lifetimes, spelled out (the defaults log a notice
  // when used); only the ID token's is configurable.
  ttl: {
    AccessToken: 60 * 60,
    AuthorizationCode: 60,
    IdToken: ID_TOKEN_TTL,
    Interaction: 60 * 60,
    Session: 14 * 24 * 60 * 60,
    Grant: 14 * 24 * 60 * 60,
  },
});

// Errors that become a 500 are otherwise silent; show them in the log.
provider.on('server_error', (_ctx, error) => {
  console.error('oidc-provider server_error:', error);
});

// Tests only (OIDC_TEST_ADMIN=1, set by scripts/test): change an account
// while its sessions live, as an administrator would at a real IdP.
//   PUT /test/accounts/<login> {"groups": [...], "disabled": true|false}
// and behave like an IdP that ignores `max_age` (it then returns the old
// sign-in's auth_time instead of asking for a new one):
//   PUT /test/ignore-max-age {"ignore": true|false}
let ignoreMaxAge = false;
if (env('OIDC_TEST_ADMIN', '') === '1') {
  provider.use(async (ctx, next) => {
    if (ctx.path === '/test/ignore-max-age' && ctx.method === 'PUT') {
      let body = '';
      for await (const chunk of ctx.req) body += chunk;
      ignoreMaxAge = JSON.parse(body || '{}').ignore === true;
      ctx.status = 204;
      return undefined;
    }
    if (ignoreMaxAge && ctx.path === '/auth' && ctx.query.max_age !== undefined) {
      const params = new URLSearchParams(ctx.querystring);
      params.delete('max_age');
      ctx.querystring = params.toString();
    }
    return next();
  });
  provider.use(async (ctx, next) => {
    const match = /^\/test\/accounts\/([a-z]+)$/.exec(ctx.path);
    if (!match || ctx.method !== 'PUT') {
      return next();
    }
    const user = Object.hasOwn(USERS, match[1]) ? USERS[match[1]] : undefined;
    if (!user) {
      ctx.status = 404;
      return undefined;
    }
    let body = '';
    for await (const chunk of ctx.req) body += chunk;
    const change = JSON.parse(body || '{}');
    if (Array.isArray(change.groups)) user.groups = change.groups.map(String);
    if (typeof change.disabled === 'boolean') user.disabled = change.disabled;
    ctx.status = 204;
    return undefined;
  });
}

const server = createServer(provider.callback());

server.on('error', (error) => {
  console.error(`oidc-provider cannot listen on ${HOST}:${PORT}: ${error.message}`);
  process.exit(1);
});

server.listen(PORT, HOST, () => {
  console.log(`oidc-provider listening on ${ISSUER}`);
});

function shutdown(signal) {
  console.log(`oidc-provider received ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  // Do not hang on a connection that refuses to close.
  setTimeout(() => process.exit(0), 2000).unref();
}

process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
