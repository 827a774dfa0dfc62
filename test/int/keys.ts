// The API key the integration tests use by default: of the default tenant, every scope (setup.ts).
export const TEST_KEY = 'esk_testtesttesttesttesttesttesttesttesttestkey';
