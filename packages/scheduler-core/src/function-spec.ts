/** What the scheduler needs to know about a deployed function. */
export interface FunctionSpec {
  /** Function name within the owner (`resize`, `pkg/resize`). */
  readonly name: string
  /** Deployed version: warm hosts are reused only by invocations of the same version. */
  readonly version?: string
  /** Memory one function host takes on a worker. Default 256. */
  readonly memoryMb?: number
  /** Invocations one host runs at once. Default 1. */
  readonly concurrency?: number
  /** Time a dispatched invocation may run before it is cancelled. Default 60 000. */
  readonly timeoutMs?: number
  /** Times a failed invocation is dispatched again before its failure is final. Default 0. */
  readonly maxRetries?: number
  /** Optional cap on this function's in-flight invocations within the shard. */
  readonly maxConcurrent?: number
  /** Dispatch its invocations together. Absent: one invocation a dispatch. */
  readonly batch?: FunctionBatch
}

/**
 * Invocations of one function (and priority) sent to one host in one dispatch, each on a
 * slot of its own: a batch leaves once `size` are queued or its oldest has waited `waitMs`,
 * whichever comes first, and never holds more than the host has free slots. What it saves
 * is per dispatch: one placement, one message to the worker, one cold start for them all.
 */
export interface FunctionBatch {
  /** At most this many a dispatch: 1 to the function's `concurrency` (one host's slots). */
  readonly size: number
  /** How long the oldest queued one may wait for the batch to fill. Default 10. */
  readonly waitMs?: number
}

export type ResolvedFunctionSpec = Required<Omit<FunctionSpec, 'maxConcurrent' | 'batch'>> & {
  readonly maxConcurrent: number
  readonly batch: Required<FunctionBatch>
}

export const FUNCTION_DEFAULTS = {
  version: '1',
  memoryMb: 256,
  concurrency: 1,
  timeoutMs: 60_000,
  maxRetries: 0,
  /** No batching (a batch of one never waits); a batch given without a wait waits 10 ms. */
  batch: { size: 1, waitMs: 10 },
} as const

/** Returns the spec with defaults filled in, or a message saying what is wrong with it. */
export function resolveFunctionSpec(spec: FunctionSpec): ResolvedFunctionSpec | string {
  if (typeof spec !== 'object' || spec === null) return 'function spec must be an object'
  if (typeof spec.name !== 'string' || spec.name.length === 0)
    return 'name must be a non-empty string'
  const resolved = {
    name: spec.name,
    version: spec.version ?? FUNCTION_DEFAULTS.version,
    memoryMb: spec.memoryMb ?? FUNCTION_DEFAULTS.memoryMb,
    concurrency: spec.concurrency ?? FUNCTION_DEFAULTS.concurrency,
    timeoutMs: spec.timeoutMs ?? FUNCTION_DEFAULTS.timeoutMs,
    maxRetries: spec.maxRetries ?? FUNCTION_DEFAULTS.maxRetries,
    maxConcurrent: spec.maxConcurrent ?? Number.POSITIVE_INFINITY,
    batch: resolveBatch(spec.batch),
  }
  if (typeof resolved.version !== 'string') return 'version must be a string'
  if (!isPositiveInteger(resolved.memoryMb)) return 'memoryMb must be a positive integer'
  if (!isPositiveInteger(resolved.concurrency)) return 'concurrency must be a positive integer'
  if (!isPositiveFinite(resolved.timeoutMs)) return 'timeoutMs must be a positive number'
  if (!Number.isInteger(resolved.maxRetries) || resolved.maxRetries < 0) {
    return 'maxRetries must be a non-negative integer'
  }
  if (
    resolved.maxConcurrent !== Number.POSITIVE_INFINITY &&
    !isPositiveInteger(resolved.maxConcurrent)
  ) {
    return 'maxConcurrent must be a positive integer'
  }
  if (typeof resolved.batch === 'string') return resolved.batch
  if (resolved.batch.size > resolved.concurrency) {
    return `batch.size (${resolved.batch.size}) must not exceed concurrency (${resolved.concurrency}): a batch runs on one host, one invocation a slot`
  }
  return resolved as ResolvedFunctionSpec
}

function resolveBatch(batch: FunctionBatch | undefined): Required<FunctionBatch> | string {
  if (batch === undefined) return FUNCTION_DEFAULTS.batch
  if (typeof batch !== 'object' || batch === null) return 'batch must be an object'
  if (!isPositiveInteger(batch.size)) return 'batch.size must be a positive integer'
  const waitMs = batch.waitMs ?? FUNCTION_DEFAULTS.batch.waitMs
  if (typeof waitMs !== 'number' || !Number.isFinite(waitMs) || waitMs < 0) {
    return 'batch.waitMs must be a non-negative number'
  }
  return { size: batch.size, waitMs }
}

function isPositiveInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0
}

function isPositiveFinite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0
}
