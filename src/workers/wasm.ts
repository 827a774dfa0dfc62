// parquet-wasm in the Worker: its compiled module, imported the way workerd loads WebAssembly, and
// a one-time initialisation of the engine's Parquet codec with it.
//
// parquet-wasm's default `init()` fetches the .wasm by URL, which fails in Workers, and workerd
// refuses to compile WebAssembly from bytes at run time; an imported `.wasm` is compiled when the
// script is uploaded and arrives here as a `WebAssembly.Module`, which `initSync` takes.

import parquetWasm from 'parquet-wasm/esm/parquet_wasm_bg.wasm';
import { initParquet } from '../engine/parquet.js';

/** Makes `encodeParquet`/`decodeParquet` usable; cheap after the first call in an isolate. */
export function ensureParquet(): void {
  initParquet(parquetWasm);
}
