import type { RunEventType } from './run-event.js'

/**
 * Why a step failed:
 * - `task-failed`: a task-failed event (the function, its host or its scheduler failed);
 * - `timeout`: the step's `timeoutMs` passed;
 * - `no-match`: no branch of a choice held and it has no `otherwise`;
 * - `not-an-array`: a map's `items` is not an array;
 * - `cancelled`: the step was stopped because another one failed or timed out.
 */
export type StepErrorCode = 'task-failed' | 'timeout' | 'no-match' | 'not-an-array' | 'cancelled'

export interface StepError {
  readonly code: StepErrorCode
  readonly message: string
  /** The step instance where the failure arose (a composite passes its child's on). */
  readonly step: string
}

export type RunRejectionReason =
  | 'invalid-event'
  | 'invalid-time'
  | 'not-started'
  | 'already-started'
  /** No task of that id was ever invoked by this run. */
  | 'unknown-task'
  /** The task finished, timed out or was cancelled: a late or duplicate answer. */
  | 'stale-task'

/** What the shell must carry out, in order. */
export type RunEffect =
  /**
   * Submit `fn` with `input` to the owner's scheduler; report its outcome as a
   * task-completed or task-failed event with this `taskId` (unique within the run, and the
   * key to use: a retry is a new task). `stepPath` is the step instance, `attempt` counts
   * from 1.
   */
  | {
      readonly type: 'invoke'
      readonly taskId: string
      readonly stepPath: string
      readonly fn: string
      readonly input: unknown
      readonly attempt: number
    }
  /** Stop this task: it timed out, or its result is no longer needed. No event is expected. */
  | { readonly type: 'cancel'; readonly taskId: string; readonly reason: 'timeout' | 'not-needed' }
  /** The run's outcome: emitted exactly once, as the last effect of the call that settles it. */
  | { readonly type: 'done'; readonly status: 'succeeded'; readonly output: unknown }
  | { readonly type: 'done'; readonly status: 'failed'; readonly error: StepError }
  /** The call was refused; the run's state did not change. */
  | {
      readonly type: 'rejected'
      readonly event: RunEventType | 'start' | 'unknown'
      readonly reason: RunRejectionReason
      readonly message: string
    }

export type RunEffectType = RunEffect['type']
