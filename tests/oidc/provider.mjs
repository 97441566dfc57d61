// A real OpenID Connect provider for the tests: `oidc-provider` from npm on a free loopback port.
//
//   node tests/oidc/provider.mjs CONFIG.json      prints "READY <issuer>" when it listens
//
// CONFIG.json: {"client": {client_id, client_secret, redirect_uris}, "accounts_file": PATH}.
// The accounts file ({login: {password, name, email, groups, ...claims}}) is read at every
// sign-in, so a test changes a user's groups between two sign-ins by rewriting it.
// Sign-in pages are our own minimal ones (a login form that checks the password, and «Avbryt»,
// which answers the client with access_denied); consent is given for the test client.
import fs from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const accounts = () => JSON.parse(fs.readFileSync(config.accounts_file, 'utf8'));
const SCOPE = 'openid profile email groups';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    ...config.client,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  scopes: SCOPE.split(' '),
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    groups: ['groups'],
  },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    const { password, ...claims } = account;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async loadExistingGrant(ctx) {
    // first-party test client: consent is implied
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPE);
    await grant.save();
    return grant;
  },
  cookies: { keys: ['oidc-test-cookie-key'] },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
});

const page = (uid, message = '') => `<!doctype html><html lang="en"><head><title>Test provider</title></head><body>
<h1>Testkommunens innlogging</h1>${message ? `<p id="error">${message}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
  <label>Login <input id="login" name="login" autofocus></label>
  <label>Password <input id="password" name="password" type="password"></label>
  <button id="sign-in" type="submit">Sign in</button>
</form>
<p><a id="abort" href="/interaction/${uid}/abort">Avbryt</a></p></body></html>`;

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
  if (!match) return next();
  const [, uid, action] = match;
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  ctx.set('Cache-Control', 'no-store');
  if (action === 'abort') {
    return provider.interactionFinished(ctx.req, ctx.res,
      { error: 'access_denied', error_description: 'The user cancelled the sign-in' }, { mergeWithLastSubmission: false });
  }
  if (action === 'login' && ctx.method === 'POST') {
    const form = await body(ctx.req);
    const account = accounts()[form.get('login')];
    if (!account || account.password !== form.get('password')) {
      ctx.type = 'html';
      ctx.body = page(uid, 'Wrong login or password');
      return undefined;
    }
    return provider.interactionFinished(ctx.req, ctx.res,
      { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
  }
  ctx.type = 'html';
  ctx.body = page(uid);
  return undefined;
});

server.on('request', provider.callback());
process.stdout.write(`READY ${issuer}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
