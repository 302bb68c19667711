/**
 * A choreography run as plain JSON: what moves with the owner's scheduler. It holds the
 * plan's source (recompiled on restore) and every step instance's state.
 */
import { InvalidRunSnapshotError } from './errors.js'
import { describeValue } from './json-value.js'
import type { PlanSource } from './plan.js'
import type { StepError } from './run-effect.js'
import type { StepStatus, TaskRunStatus } from './run-trace.js'

export const RUN_SNAPSHOT_FORMAT = 'chorus.choreography-run/1'

/** One attempt of a task step. */
export interface TaskRunState {
  taskId: string
  attempt: number
  status: TaskRunStatus
  invokedAt: number | null
  endedAt: number | null
  peerId: string | null
  error: string | null
}

/** One instance of a plan node: the step itself, or one map item's copy of it. */
export interface FrameState {
  /** The instance path (see StepTrace.path); unique within the run. */
  path: string
  /** The plan node it instantiates. */
  node: number
  parent: string | null
  /** Its place among the parent's children (the item index under a map). */
  index: number
  /** Creation order: breaks ties between deadlines. */
  seq: number
  status: StepStatus
  attempts: number
  startedAt: number | null
  endedAt: number | null
  /** When the current attempt times out, if it can. */
  deadline: number | null
  /** Held while running: retries and map items start from it. */
  input: unknown
  /** Held from success until the parent takes it. */
  output: unknown
  error: StepError | null
  children: string[]
  /** Sequence: the running child. Choice: the branch taken (-1: none). Map: the next item. */
  cursor: number
  /** Parallel, map: children running. */
  running: number
  /** Map: items that succeeded. */
  done: number
  /** Map: the number of items, once known. */
  total: number | null
  /** Parallel, map: the outputs gathered so far, in order. */
  outputs: unknown[] | null
  /** Task: every attempt, oldest first. */
  runs: TaskRunState[]
}

export interface RunSnapshot {
  readonly format: typeof RUN_SNAPSHOT_FORMAT
  readonly id: string
  readonly maxInflightTasks: number
  readonly source: PlanSource
  readonly now: number
  readonly started: boolean
  readonly startedAt: number | null
  readonly endedAt: number | null
  readonly outcome:
    | { readonly status: 'succeeded'; readonly output: unknown }
    | { readonly status: 'failed'; readonly error: StepError }
    | null
  readonly taskSeq: number
  readonly frameSeq: number
  /** Tasks waiting for a free slot, in order. */
  readonly queue: readonly string[]
  /** Every step instance, parents before their children. */
  readonly frames: readonly FrameState[]
}

/** Checks the outer shape of a snapshot; `restore()` checks the frames as it loads them. */
export function checkRunSnapshotShape(snapshot: RunSnapshot): void {
  const fail = (path: string, message: string): never => {
    throw new InvalidRunSnapshotError(path, message)
  }
  if (typeof snapshot !== 'object' || snapshot === null) fail('', 'must be an object')
  const format: unknown = snapshot.format
  if (format !== RUN_SNAPSHOT_FORMAT) {
    fail('format', `expected ${RUN_SNAPSHOT_FORMAT}, got ${describeValue(format)}`)
  }
  if (typeof snapshot.id !== 'string' || snapshot.id === '')
    fail('id', 'must be a non-empty string')
  for (const key of ['now', 'taskSeq', 'frameSeq', 'maxInflightTasks'] as const) {
    if (!Number.isFinite(snapshot[key])) fail(key, 'must be a finite number')
  }
  if (typeof snapshot.started !== 'boolean') fail('started', 'must be a boolean')
  if (typeof snapshot.source !== 'object' || snapshot.source === null) {
    fail('source', 'must be an object')
  }
  if (typeof snapshot.source.nested !== 'object' || snapshot.source.nested === null) {
    fail('source.nested', 'must be an object')
  }
  if (!Array.isArray(snapshot.frames) || snapshot.frames.length === 0) {
    fail('frames', 'must be a non-empty array')
  }
  if (!Array.isArray(snapshot.queue)) fail('queue', 'must be an array')
  const outcome = snapshot.outcome as unknown
  if (outcome !== null && (typeof outcome !== 'object' || Array.isArray(outcome))) {
    fail('outcome', 'must be null or an object')
  }
}
