/** A dispatch effect as a scheduler makes one, for the tests of what runs dispatches. */
import type { DispatchEffect } from '../../src/scheduling/provider.js'

export interface DispatchOptions {
  readonly fn?: string
  readonly version?: string
  readonly worker?: string
  readonly attempt?: number
  /** The invocations' ids; by default `i1`, `i2`, … */
  readonly ids?: readonly string[]
}

/** A dispatch of one invocation per input (of `resize`, version `1`, to `peer-w` by default). */
export function dispatchOf(inputs: readonly unknown[], o: DispatchOptions = {}): DispatchEffect {
  return {
    type: 'dispatch',
    dispatchId: 'd1',
    fn: o.fn ?? 'resize',
    version: o.version ?? '1',
    worker: o.worker ?? 'peer-w',
    hostId: 'h1',
    coldStart: false,
    overloaded: false,
    invocations: inputs.map((input, i) => ({
      id: o.ids?.[i] ?? `i${i + 1}`,
      attempt: o.attempt ?? 1,
      input,
    })),
  }
}
