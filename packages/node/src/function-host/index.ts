/**
 * Function hosts: where a worker runs user code. A host is a child process on 127.0.0.1 that
 * runs one function version, reached over keep-alive HTTP — `nodejs` (OpenWhisk's `/init` +
 * `/run` contract, served by `nodejs-runner`) or `process` (any command serving `POST /run`
 * on `$PORT`). `WorkerHostPool` keeps a peer's hosts within its `--worker-memory`: warm reuse,
 * LRU eviction, idle reaping, and `busy` when an invocation does not fit. See README.md.
 *
 * @example
 * ```ts
 * const host = await FunctionHost.start({
 *   runtime: 'nodejs',
 *   code: 'export default async (input, ctx) => ({ hello: input.name, id: ctx.invocationId })',
 *   memoryMb: 128,
 *   concurrency: 1,
 * })
 * host.startMs // the cold start: spawn + ready + /init
 * await host.run({ name: 'ada' }, { invocationId: 'i1', timeoutMs: 60_000 })
 * // { hello: 'ada', id: 'i1' }
 * await host.stop()
 * ```
 */
export {
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_START_TIMEOUT_MS,
  FunctionHost,
  MIN_NODE_HEAP_MB,
} from './function-host.js'
export type { FunctionHostOptions, HostExit, HostExitCause, RunOptions } from './function-host.js'
export { hostError, hostFailureReason } from './host-errors.js'
export type { HostFailureReason } from './host-errors.js'
export { validateHostSpec } from './host-spec.js'
export type { FunctionRuntime } from '../definitions/function-spec.js'
export type { FunctionContext, FunctionHostSpec } from './host-spec.js'
export { DEFAULT_IDLE_TTL_MS, WorkerHostPool } from './worker-host-pool.js'
export type {
  AcquireResult,
  BusyReason,
  HostGoneReason,
  PooledHostStats,
  WorkerHostPoolInit,
  WorkerHostPoolStats,
} from './worker-host-pool.js'
export {
  DEFAULT_MAX_BUNDLE_BYTES,
  DEFAULT_MAX_BUNDLE_ENTRIES,
  extractBundle,
} from './extract-bundle.js'
export type { ExtractBundleOptions, ExtractedBundle } from './extract-bundle.js'
