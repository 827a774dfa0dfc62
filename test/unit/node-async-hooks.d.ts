// The one Node API the unit tests use; the project's types are the Workers runtime's, not Node's.
declare module 'node:async_hooks' {
  export class AsyncLocalStorage<T> {
    run<R>(store: T, fn: () => R): R;
    getStore(): T | undefined;
  }
}
