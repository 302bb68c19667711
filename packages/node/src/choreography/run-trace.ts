/**
 * What a run shows of itself (`GET /v1/invocations/{id}`): a tree of step instances with
 * their status, times, attempts and, for tasks, each attempt and the peer that ran it.
 */
import type { StepKind } from './definition.js'
import type { StepError } from './run-effect.js'

/** `skipped`: will not run (a branch not taken, a step after a failure). */
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped'

export type TaskRunStatus =
  'queued' | 'running' | 'succeeded' | 'failed' | 'timed-out' | 'cancelled'

/** One attempt of a task step: one `invoke` effect (once it leaves the run's queue). */
export interface TaskTrace {
  readonly taskId: string
  readonly attempt: number
  readonly status: TaskRunStatus
  readonly invokedAt?: number
  readonly endedAt?: number
  /** Where it ran, as the completion (or failure) event said. */
  readonly peerId?: string
  readonly error?: string
}

export interface StepTrace {
  /**
   * The step instance: the step's path in the definition, with `[i]` after a map's
   * `/map` for item i (`/definition/map[3]/sequence/0`).
   */
  readonly path: string
  readonly kind: StepKind
  readonly name?: string
  /** Task steps: the function. */
  readonly fn?: string
  /** Choreography steps: the choreography run. */
  readonly choreography?: string
  readonly status: StepStatus
  /** Attempts started (retries + 1 at most). */
  readonly attempts: number
  /** When the first attempt started, and when the step settled. */
  readonly startedAt?: number
  readonly endedAt?: number
  /** The error of the latest failed attempt: a step that succeeded on a retry keeps it. */
  readonly error?: StepError
  /** Task steps: every attempt, oldest first. */
  readonly tasks?: readonly TaskTrace[]
  /** Map steps: item counts (items not started yet have no child entry). */
  readonly items?: {
    readonly total: number
    readonly started: number
    readonly succeeded: number
    readonly failed: number
  }
  /** Choice steps: the branch taken. */
  readonly branch?: number | 'otherwise'
  /** Composite steps: their sub-steps in definition (or item) order. */
  readonly children?: readonly StepTrace[]
}

export interface RunTrace {
  readonly id: string
  readonly choreography: string
  readonly status: 'pending' | 'running' | 'succeeded' | 'failed'
  readonly startedAt?: number
  readonly endedAt?: number
  readonly error?: StepError
  readonly root: StepTrace
}
