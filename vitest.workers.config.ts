// Integration tests inside workerd: the real Worker, Durable Objects and D1 through Miniflare.
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig(async () => {
  const migrations = await readD1Migrations('migrations');
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          // Tests drive publishing themselves (alarms, queue batches); the shards' own trigger waits.
          bindings: {
            TEST_MIGRATIONS: migrations,
            PIPELINE_TRIGGER: 'batch',
            ADMIN_TOKEN: 'test-admin-token',
            PUBLISH_DELAY_MS: '600000',
            PUBLISH_MIN_EVENTS: '100000',
            PUBLISH_MAX_EVENTS: '5000',
            REPLICATE_DELAY_MS: '600000',
            REPLICATE_MIN_EVENTS: '1000000',
          },
        },
      }),
    ],
    test: {
      name: 'workers',
      include: ['test/int/**/*.int.spec.ts'],
      setupFiles: ['test/int/setup.ts'],
    },
  };
});
