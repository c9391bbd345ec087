// A real OpenID provider (the `oidc-provider` package) for the `mcpeeker serve` tests and demos.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG.json: {"port": 0, "host": "127.0.0.1", "jwks": {"keys": [<private JWKs>]},
//   "clients": [{"client_id", "redirect_uris", "audience", "application_type"?}], "accounts": {"alice": {"groups": [...], ...}},
//   "access_token_ttl": 600}
// Logins go through the provider's development login and consent forms (any password); an account not in
// "accounts" cannot log in. Access tokens are JWTs for the client's audience (resource indicators) and carry the
// account's groups, so an API verifies them against this provider's JWKS like any other issuer's.
// When listening, the script prints one line: {"issuer": "http://host:port"}.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const host = config.host || '127.0.0.1';
const accounts = config.accounts || {};
const audienceOf = Object.fromEntries(config.clients.map((c) => [c.client_id, c.audience]));

const server = http.createServer();
server.listen(config.port || 0, host, () => {
  const { port } = server.address();
  const issuer = `http://${host}:${port}`;

  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      client_id: c.client_id,
      token_endpoint_auth_method: 'none', // a public client: PKCE instead of a secret
      application_type: c.application_type || 'native', // native: loopback http redirect URIs; web: https
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    jwks: config.jwks,
    cookies: { keys: ['mcpeeker-test-oidc-cookie-key'] },
    claims: { openid: ['sub'], profile: ['preferred_username', 'email'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'groups'],
    async findAccount(ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, preferred_username: id, ...account };
        },
      };
    },
    async extraTokenClaims(ctx, token) {
      const account = accounts[token.accountId];
      if (token.kind !== 'AccessToken' || !account) return undefined;
      return { preferred_username: token.accountId, ...account };
    },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client) => audienceOf[client.clientId],
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => {
          if (resource !== audienceOf[client.clientId]) throw new Error(`unknown resource ${resource}`);
          return {
            scope: 'api',
            audience: resource,
            accessTokenTTL: config.access_token_ttl || 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    pkce: { required: () => true },
    ttl: { AccessToken: config.access_token_ttl || 600 },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
