import type { SchedulerEventType } from './events.js'

export interface DispatchedInvocation {
  readonly id: string
  /** 1 for the first dispatch; completions must echo it, so late answers can be told apart. */
  readonly attempt: number
  readonly input: unknown
}

export type ErrorCode =
  | 'function-error'
  | 'timeout'
  | 'queue-timeout'
  | 'worker-lost'
  | 'host-lost'
  | 'released'
  /** The worker could not be reached after the dispatch may have started: not the function's fault. */
  | 'peer-unreachable'

export type RejectionReason =
  | 'invalid-event'
  | 'invalid-capacity'
  | 'invalid-function'
  | 'invalid-invocation'
  | 'invalid-time'
  | 'duplicate-invocation'
  | 'duplicate-worker'
  | 'unknown-function'
  | 'unknown-invocation'
  | 'unknown-worker'
  | 'unknown-dispatch'
  | 'unknown-host'
  | 'stale-attempt'
  | 'not-queued'

/** What the shell must carry out, in order. */
export type SchedulerEffect =
  /** Run these invocations on `hostId` at `worker`; a cold start must create the host first. */
  | {
      readonly type: 'dispatch'
      readonly dispatchId: string
      readonly fn: string
      readonly version: string
      readonly worker: string
      readonly hostId: string
      readonly coldStart: boolean
      /** Placed by the forced fallback: the worker may be over its memory. */
      readonly overloaded: boolean
      readonly invocations: readonly DispatchedInvocation[]
    }
  /** Stop running these invocations (their slot is already given back). */
  | {
      readonly type: 'cancel'
      readonly dispatchId: string
      readonly worker: string
      readonly hostId: string
      readonly invocationIds: readonly string[]
      readonly reason: 'preempted' | 'timeout'
    }
  /** Stop this function host and free its memory. */
  | {
      readonly type: 'evict-host'
      readonly worker: string
      readonly hostId: string
      readonly fn: string
      readonly reason: 'idle' | 'memory'
    }
  /** The invocation's final outcome. */
  | {
      readonly type: 'result'
      readonly invocationId: string
      readonly status: 'succeeded' | 'failed'
      readonly output?: unknown
      readonly error?: { readonly code: ErrorCode; readonly message: string }
      /** Times it was started, this last run included (0 if it never left the queue). */
      readonly attempts: number
      /** Times it was preempted while it ran, each time starting over. */
      readonly preemptions: number
    }
  /** The event was refused; the scheduler's state did not change. */
  | {
      readonly type: 'rejected'
      readonly event: SchedulerEventType | 'unknown'
      readonly reason: RejectionReason
      readonly message: string
    }

export type SchedulerEffectType = SchedulerEffect['type']
