// The Node file APIs the Parquet unit tests use (temp files for DuckDB, the parquet-wasm module's
// bytes); the project's types are the Workers runtime's, not Node's.
declare module 'node:fs' {
  export function readFileSync(path: string | URL): Uint8Array;
  export function writeFileSync(path: string, data: Uint8Array | string): void;
  export function mkdtempSync(prefix: string): string;
  export function rmSync(path: string, options?: { recursive?: boolean; force?: boolean }): void;
}

declare module 'node:os' {
  export function tmpdir(): string;
}
