/**
 * The built-in provider `builtin`: `echo` returns its input, `sleep` waits `input.ms`
 * milliseconds. It runs on the responsible peer's own worker, through scheduler-core's
 * dispatch-and-complete cycle, so the whole path is real until function execution lands.
 */
import type { FunctionSpec } from '@chorus/scheduler-core'
import { ChorusError } from '../../errors.js'

export const BUILTIN_PROVIDER = 'builtin'

/** Longest `sleep` allowed: ten minutes. */
export const MAX_SLEEP_MS = 600_000

export const BUILTIN_FUNCTIONS: readonly FunctionSpec[] = [
  { name: 'echo', memoryMb: 1, concurrency: 10_000, timeoutMs: 60_000 },
  { name: 'sleep', memoryMb: 1, concurrency: 10_000, timeoutMs: MAX_SLEEP_MS + 60_000 },
]

export function isBuiltinFunction(name: string): boolean {
  return BUILTIN_FUNCTIONS.some((f) => f.name === name)
}

/** Checks an input before it is queued, so bad ones fail at the edge with a 400. */
export function validateBuiltinInput(fn: string, input: unknown): void {
  if (fn !== 'sleep') return
  const ms = (input as { ms?: unknown } | null)?.ms
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
    throw new ChorusError(
      'bad-request',
      `sleep needs input { "ms": <number from 0 to ${MAX_SLEEP_MS}> }`,
    )
  }
}

export function runBuiltin(fn: string, input: unknown, signal: AbortSignal): Promise<unknown> {
  if (fn === 'echo') return Promise.resolve(input)
  if (fn === 'sleep') {
    const ms = (input as { ms: number }).ms
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve({ sleptMs: ms }), ms)
      signal.addEventListener('abort', () => {
        clearTimeout(timer)
        reject(new Error('cancelled'))
      })
    })
  }
  return Promise.reject(new ChorusError('unknown-function', `builtin has no function ${fn}`))
}
