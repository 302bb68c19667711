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
}

export type ResolvedFunctionSpec = Required<Omit<FunctionSpec, 'maxConcurrent'>> & {
  readonly maxConcurrent: number
}

export const FUNCTION_DEFAULTS = {
  version: '1',
  memoryMb: 256,
  concurrency: 1,
  timeoutMs: 60_000,
  maxRetries: 0,
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
  return resolved
}

function isPositiveInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0
}

function isPositiveFinite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0
}
