/**
 * What a function spec may be: its runtimes and providers, its defaults and bounds, and
 * the check an untrusted one passes before it is deployed or replicated. The one
 * definition of these rules: the HTTP edge, the definitions log and the function host
 * import it. Pure.
 */
import { isDigest } from './digest.js'

export const FUNCTION_RUNTIMES = ['nodejs', 'process'] as const
export type FunctionRuntime = (typeof FUNCTION_RUNTIMES)[number]
export type FunctionProvider = 'mesh' | 'http'

export function isFunctionRuntime(value: unknown): value is FunctionRuntime {
  return FUNCTION_RUNTIMES.includes(value as FunctionRuntime)
}

/**
 * Invocations sent to one host together, each on a slot of its own: a batch leaves once
 * `size` are queued or the oldest has waited `waitMs`, whichever comes first.
 */
export interface FunctionBatch {
  /** At most the function's `concurrency`: a batch runs on one host, one invocation a slot. */
  readonly size: number
  readonly waitMs: number
}

/** How a function runs: everything but its identity and version. */
export interface FunctionSpec {
  readonly runtime: FunctionRuntime
  readonly provider: FunctionProvider
  readonly memoryMb: number
  readonly timeoutMs: number
  readonly concurrency: number
  /** sha256 (lowercase hex) of the code: a JS module or a .tgz bundle, in the code store. */
  readonly digest?: string
  /** What a `process` function host runs (in the unpacked bundle's directory, if any). */
  readonly command?: readonly string[]
  /** The endpoint of a `http` provider function. */
  readonly url?: string
  /** Absent: each invocation is dispatched alone. */
  readonly batch?: FunctionBatch
}

/** What a deploy may leave out: the defaults fill it in. */
export interface FunctionSpecInput {
  readonly runtime: FunctionRuntime
  readonly provider?: FunctionProvider
  readonly memoryMb?: number
  readonly timeoutMs?: number
  readonly concurrency?: number
  readonly digest?: string
  readonly command?: readonly string[]
  readonly url?: string
  readonly batch?: { readonly size: number; readonly waitMs?: number }
}

export const FUNCTION_DEFAULTS = {
  provider: 'mesh',
  memoryMb: 128,
  timeoutMs: 60_000,
  concurrency: 1,
  /** A batch's wait when a deploy gives only its size. */
  batchWaitMs: 10,
} as const

/** What a function may ask for; a deploy, an operation from a peer and a host are held to it. */
export const FUNCTION_BOUNDS = {
  memoryMb: { min: 1, max: 1_048_576 },
  timeoutMs: { min: 1, max: 86_400_000 },
  concurrency: { min: 1, max: 10_000 },
  /** The most invocations a remote worker takes in one dispatch (`execute/1`). */
  batchSize: { min: 1, max: 1_000 },
  /** A minute: a batch that waits longer for company is a queue, not a batch. */
  batchWaitMs: { min: 0, max: 60_000 },
  commandArgs: 256,
  commandArgChars: 4096,
  urlChars: 2048,
} as const

/** The numbers a function spec bounds. */
export type FunctionLimit = 'memoryMb' | 'timeoutMs' | 'concurrency' | 'batchSize' | 'batchWaitMs'

/** How each limit is named in a spec and in the messages about it. */
const LIMIT_FIELDS: Record<FunctionLimit, string> = {
  memoryMb: 'memoryMb',
  timeoutMs: 'timeoutMs',
  concurrency: 'concurrency',
  batchSize: 'batch.size',
  batchWaitMs: 'batch.waitMs',
}

/** Why `value` is not a valid `field` of a function spec (an integer within its bounds), if not. */
export function limitProblem(field: FunctionLimit, value: unknown): string | undefined {
  const { min, max } = FUNCTION_BOUNDS[field]
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    return `${LIMIT_FIELDS[field]} must be an integer from ${min} to ${max}`
  }
  return undefined
}

/** Why `size` is more than a host of `concurrency` takes in one batch, if it is. */
export function batchOverConcurrencyProblem(size: number, concurrency: number): string | undefined {
  return size > concurrency
    ? `batch.size (${size}) must not exceed concurrency (${concurrency}): a batch runs on one host, one invocation a slot`
    : undefined
}

/**
 * The batch `input` describes, or why it is not one. With `defaults`, a missing `waitMs`
 * takes FUNCTION_DEFAULTS.batchWaitMs.
 */
function checkBatch(
  input: unknown,
  concurrency: number,
  defaults: boolean,
): FunctionBatch | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return 'batch must be an object: { size, waitMs }'
  }
  const raw = input as Record<string, unknown>
  const waitMs = raw.waitMs === undefined && defaults ? FUNCTION_DEFAULTS.batchWaitMs : raw.waitMs
  const problem =
    limitProblem('batchSize', raw.size) ??
    limitProblem('batchWaitMs', waitMs) ??
    batchOverConcurrencyProblem(raw.size as number, concurrency)
  return problem ?? { size: raw.size as number, waitMs: waitMs as number }
}

/**
 * The spec `input` describes, or why it is not one. With `defaults`, missing optional
 * fields take FUNCTION_DEFAULTS (a deploy); without, every field must be there (a
 * replicated operation, which its issuer already resolved).
 */
export function checkFunctionSpec(input: unknown, defaults: boolean): FunctionSpec | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return 'function spec must be an object'
  }
  const raw = input as Record<string, unknown>
  const pick = (field: keyof typeof FUNCTION_DEFAULTS): unknown =>
    raw[field] === undefined && defaults ? FUNCTION_DEFAULTS[field] : raw[field]
  const runtime = raw.runtime
  if (!isFunctionRuntime(runtime)) {
    return `runtime must be "nodejs" or "process", got ${JSON.stringify(runtime) ?? 'nothing'}`
  }
  const provider = pick('provider')
  if (provider !== 'mesh' && provider !== 'http') {
    return `provider must be "mesh" or "http", got ${JSON.stringify(provider) ?? 'nothing'}`
  }
  const memoryMb = pick('memoryMb')
  const timeoutMs = pick('timeoutMs')
  const concurrency = pick('concurrency')
  const bounds =
    limitProblem('memoryMb', memoryMb) ??
    limitProblem('timeoutMs', timeoutMs) ??
    limitProblem('concurrency', concurrency)
  if (bounds) return bounds
  const { digest, command, url } = raw
  const batch =
    raw.batch === undefined ? undefined : checkBatch(raw.batch, concurrency as number, defaults)
  if (typeof batch === 'string') return batch
  if (digest !== undefined && (typeof digest !== 'string' || !isDigest(digest))) {
    return 'digest must be 64 lowercase hex digits (sha256)'
  }
  if (command !== undefined) {
    const problem = commandProblem(command)
    if (problem) return problem
  }
  if (url !== undefined) {
    const problem = urlProblem(url)
    if (problem) return problem
  }
  if (provider === 'http' && url === undefined) return 'provider "http" needs a url'
  if (provider === 'mesh') {
    if (url !== undefined) return 'url is only for provider "http"'
    if (runtime === 'nodejs' && digest === undefined) {
      return 'runtime "nodejs" needs code (a digest)'
    }
    if (runtime === 'process' && command === undefined) return 'runtime "process" needs a command'
  }
  return {
    runtime,
    provider,
    memoryMb: memoryMb as number,
    timeoutMs: timeoutMs as number,
    concurrency: concurrency as number,
    ...(digest === undefined ? {} : { digest }),
    ...(command === undefined ? {} : { command: [...(command as string[])] }),
    ...(url === undefined ? {} : { url: url as string }),
    ...(batch === undefined ? {} : { batch }),
  }
}

/** Why `command` is not what a `process` host can run (`["executable", ...args]`), if not. */
export function commandProblem(command: unknown): string | undefined {
  if (!Array.isArray(command) || command.length === 0) {
    return 'command must be a non-empty array of strings'
  }
  if (command.length > FUNCTION_BOUNDS.commandArgs) {
    return `command may have at most ${FUNCTION_BOUNDS.commandArgs} arguments`
  }
  for (const arg of command) {
    if (typeof arg !== 'string') return 'command must be a non-empty array of strings'
    if (arg.length > FUNCTION_BOUNDS.commandArgChars) {
      return `a command argument is longer than ${FUNCTION_BOUNDS.commandArgChars} characters`
    }
    if (arg.includes('\0')) return 'a command argument contains a NUL character'
  }
  if ((command[0] as string).length === 0) return 'command[0] must not be empty'
  return undefined
}

/** Why `url` is not the endpoint of a `http` provider function, if it is not. */
export function urlProblem(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length > FUNCTION_BOUNDS.urlChars || !isHttpUrl(url)) {
    return `url must be an http(s) URL of at most ${FUNCTION_BOUNDS.urlChars} characters`
  }
  return undefined
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
