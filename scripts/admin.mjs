// `npm run admin -- <command>`: tenants, keys and webhook sources in the LOCAL catalog of `npm start`.
//
//   create-tenant <id> [--shards N]                      a tenant and its first admin key
//   create-key <tenant> --scopes write,read[,query,admin] [--name text] [--rate N]
//   create-source <tenant> <platform> [--secret s] [--verify-token t] [--public-key hex]
//   list <tenant>                                         keys (ids, scopes) and sources (ids, URLs)
//
// Keys are printed once; only their SHA-256 is stored. Against a deployed store use the admin
// routes (POST /v1/admin/keys, /v1/admin/sources) with an admin key, and POST /v1/admin/tenants
// with the ADMIN_TOKEN secret.

import { randomBytes } from 'node:crypto';
import { insertKeySql, lit, SCOPES, sql } from './catalog-local.mjs';

const PLATFORMS = ['github', 'slack', 'meta', 'x', 'discord', 'stripe', 'standard'];
const [command, ...rest] = process.argv.slice(2);
const positional = rest.filter((a, i) => !a.startsWith('--') && !(i > 0 && rest[i - 1].startsWith('--')));
const flag = (name) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : undefined;
};
const persistTo = flag('persist-to');

function fail(message) {
  console.error(`npm run admin: ${message}\n`);
  console.error(`usage:
  npm run admin -- create-tenant <id> [--shards N]
  npm run admin -- create-key <tenant> --scopes ${SCOPES.join(',')} [--name text] [--rate N]
  npm run admin -- create-source <tenant> <${PLATFORMS.join('|')}> [--secret s] [--verify-token t] [--public-key hex]
  npm run admin -- list <tenant>`);
  process.exit(2);
}

function tenantExists(id) {
  return sql(`SELECT id FROM tenants WHERE id = ${lit(id)};`, persistTo).length > 0;
}

switch (command) {
  case 'create-tenant': {
    const [id] = positional;
    if (!id || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) fail('give a tenant id: lower-case letters, digits and -, up to 63');
    const shards = Number(flag('shards') ?? 8);
    if (!Number.isInteger(shards) || shards < 1 || shards > 1024) fail('--shards must be 1..1024');
    if (tenantExists(id)) fail(`tenant ${id} exists already`);
    const key = insertKeySql(id, SCOPES, 'first admin key', null);
    sql(`INSERT INTO tenants (id, shard_count, created_at) VALUES (${lit(id)}, ${shards}, ${Date.now()}); ${key.text}`, persistTo);
    console.log(`tenant ${id} created with ${shards} shards\nadmin key (shown once): ${key.key}`);
    break;
  }
  case 'create-key': {
    const [tenant] = positional;
    if (!tenant) fail('give the tenant');
    const scopes = (flag('scopes') ?? '').split(',').filter(Boolean);
    if (scopes.length === 0 || scopes.some((s) => !SCOPES.includes(s))) fail(`--scopes takes a list of ${SCOPES.join(', ')}`);
    const rate = flag('rate') === undefined ? null : Number(flag('rate'));
    if (rate !== null && (!Number.isInteger(rate) || rate < 1)) fail('--rate must be a positive integer (requests per second)');
    if (!tenantExists(tenant)) fail(`no tenant ${tenant}; create it with create-tenant`);
    const key = insertKeySql(tenant, scopes, flag('name') ?? null, rate);
    sql(key.text, persistTo);
    console.log(`key ${key.id} of ${tenant} with ${scopes.join(', ')} (shown once): ${key.key}`);
    break;
  }
  case 'create-source': {
    const [tenant, platform] = positional;
    if (!tenant || !PLATFORMS.includes(platform)) fail(`give the tenant and one of ${PLATFORMS.join(', ')}`);
    if (!tenantExists(tenant)) fail(`no tenant ${tenant}; create it with create-tenant`);
    const secrets = Object.fromEntries(
      [
        ['secret', flag('secret')],
        ['verifyToken', flag('verify-token')],
        ['publicKey', flag('public-key')],
      ].filter(([, v]) => v !== undefined),
    );
    if (Object.keys(secrets).length === 0) fail('give the platform secret (--secret, --verify-token for Meta, --public-key for Discord)');
    const id = `${platform}-${randomBytes(8).toString('hex')}`;
    sql(
      `INSERT INTO sources (id, tenant, platform, secrets, created_at) VALUES (${lit(id)}, ${lit(tenant)}, ${lit(platform)}, ${lit(JSON.stringify(secrets))}, ${Date.now()});`,
      persistTo,
    );
    console.log(`source ${id} of ${tenant}: deliveries go to /v1/webhooks/${id}`);
    break;
  }
  case 'list': {
    const [tenant] = positional;
    if (!tenant) fail('give the tenant');
    for (const k of sql(`SELECT id, scopes, name, revoked_at FROM api_keys WHERE tenant = ${lit(tenant)};`, persistTo)) {
      console.log(`key    ${k.id}  ${JSON.parse(k.scopes).join(',')}  ${k.name ?? ''}${k.revoked_at ? '  (revoked)' : ''}`);
    }
    for (const s of sql(`SELECT id, platform FROM sources WHERE tenant = ${lit(tenant)};`, persistTo)) {
      console.log(`source ${s.id}  ${s.platform}  /v1/webhooks/${s.id}`);
    }
    break;
  }
  default:
    fail(command ? `unknown command ${command}` : 'give a command');
}
