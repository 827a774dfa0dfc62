// Integration tests inside workerd: the real Worker, Durable Objects and D1 through Miniflare.
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig(async () => {
  const migrations = await readD1Migrations('migrations');
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: { bindings: { TEST_MIGRATIONS: migrations } },
      }),
    ],
    test: {
      name: 'workers',
      include: ['test/int/**/*.int.spec.ts'],
      setupFiles: ['test/int/setup.ts'],
    },
  };
});
