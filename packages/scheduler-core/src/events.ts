import type { FunctionSpec } from './function-spec.js'
import type { WorkerHealth } from './openwhisk-placement.js'

export type Priority = 0 | 1

/** An invocation as it enters a scheduler. `input` is opaque JSON carried to the worker. */
export interface InvocationRequest {
  readonly id: string
  readonly fn: string
  readonly input?: unknown
  /** 0 (high) runs before 1 (low, the default). */
  readonly priority?: Priority
  /** Low-priority invocations may be evicted by high-priority ones unless false. */
  readonly preemptible?: boolean
  /** Fails with `queue-timeout` if not dispatched within this long. Default: the config's. */
  readonly queueTimeoutMs?: number
  /**
   * It entered the mesh at another peer, which forwarded it here. Counted apart
   * (`forwardedRatePerSec`): what a locality policy weighs against what is served locally.
   */
  readonly forwarded?: boolean
}

/** Everything that can happen to a scheduler. The shell feeds these in with the time. */
export type SchedulerEvent =
  | { readonly type: 'tick' }
  | { readonly type: 'function-registered'; readonly spec: FunctionSpec }
  | { readonly type: 'worker-joined'; readonly workerId: string; readonly memoryMb: number }
  | { readonly type: 'worker-health'; readonly workerId: string; readonly health: WorkerHealth }
  | { readonly type: 'capacity-changed'; readonly capacity: number }
  | { readonly type: 'invocation-submitted'; readonly invocation: InvocationRequest }
  | {
      readonly type: 'invocation-completed'
      readonly invocationId: string
      readonly attempt: number
      readonly output?: unknown
    }
  | {
      readonly type: 'invocation-failed'
      readonly invocationId: string
      readonly attempt: number
      readonly error: string
      /**
       * Why, when it was not the function: its deadline passed (`timeout`), or the worker
       * could not be reached once it may have started (`peer-unreachable`). Default
       * `function-error`.
       */
      readonly code?: FailureCode
    }
  /** The worker host refused the dispatch ("busy"): the walk continues elsewhere. */
  | { readonly type: 'dispatch-refused'; readonly dispatchId: string }
  /** The shell gives up on a dispatched invocation (no answer will come): free what it held. */
  | {
      readonly type: 'invocation-released'
      readonly invocationId: string
      readonly attempt: number
    }
  /**
   * Takes a queued invocation out without a result: it is being handed to another
   * scheduler (a merge or a migration), which will answer for it.
   */
  | { readonly type: 'invocation-withdrawn'; readonly invocationId: string }
  /** A function host died or was killed: the invocations it was running fail (and may retry). */
  | { readonly type: 'host-lost'; readonly hostId: string }

export type SchedulerEventType = SchedulerEvent['type']

/** What an `invocation-failed` event may say the failure was. */
export const FAILURE_CODES = ['function-error', 'timeout', 'peer-unreachable'] as const
export type FailureCode = (typeof FAILURE_CODES)[number]
