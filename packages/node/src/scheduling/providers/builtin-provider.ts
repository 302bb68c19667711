/**
 * The built-in provider `builtin`: `echo` returns its input, `sleep` waits `input.ms`
 * milliseconds. It runs in-process on the responsible peer's own worker, through
 * scheduler-core's dispatch-and-complete cycle and the same run path as every provider.
 */
import type { FunctionSpec } from '@chorus/scheduler-core'
import { ChorusError } from '../../errors.js'
import type { DispatchEffect, ProviderLease, ProviderRuntime } from '../provider.js'

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

/** Runs `echo` and `sleep` in-process: every dispatch is ready at once, with no slot to hold. */
export class BuiltinProvider implements ProviderRuntime {
  spec(_owner: string, fn: string): FunctionSpec | undefined {
    return BUILTIN_FUNCTIONS.find((f) => f.name === fn)
  }

  acquire(_owner: string, dispatch: DispatchEffect): Promise<ProviderLease> {
    return Promise.resolve({
      type: 'ready',
      run: (_index, _id, input, signal) => runBuiltin(dispatch.fn, input, signal),
    })
  }
}

export function runBuiltin(fn: string, input: unknown, signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.reject(new Error('cancelled'))
  if (fn === 'echo') return Promise.resolve(input)
  if (fn === 'sleep') {
    const ms = (input as { ms: number }).ms
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve({ sleptMs: ms }), ms)
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          reject(new Error('cancelled'))
        },
        { once: true },
      )
    })
  }
  return Promise.reject(new ChorusError('unknown-function', `builtin has no function ${fn}`))
}
