// Secrets of the Worker: set with `wrangler secret put` (or .dev.vars locally), so not in wrangler.toml.
interface Env {
  /** Lets `POST /v1/admin/tenants` create tenants; unset, tenants are created with `npm run admin` only. */
  ADMIN_TOKEN?: string;
}
