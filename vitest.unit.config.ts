// Unit tests of the pure engine, on plain Node.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'unit',
    include: ['test/unit/**/*.unit.spec.ts'],
    environment: 'node',
  },
});
