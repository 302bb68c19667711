/**
 * One invocation of a choreography: a deterministic state machine. Events go in with the
 * time, effects come out; it reads no clock, draws no randomness and does no I/O.
 *
 *     const run = new ChoreographyRun(plan, { id: 'inv-1' })
 *     run.start({ files: ['a.png'] }, 0)
 *     // [{ type: 'invoke', taskId: 'inv-1/t1', stepPath: '/definition/sequence/0', fn: 'resize', ... }]
 *     run.handle({ type: 'task-completed', taskId: 'inv-1/t1', output: 'a.webp', peerId: 'p2' }, 40)
 *     run.nextDeadline() // when to send { type: 'tick' } next, if ever
 *
 * Every step instance is a frame (run-snapshot.ts). Starting a step goes down the tree at
 * once; a step that settles is put on an agenda, and its parent hears of it when the agenda
 * is worked off, so nothing recurses deeper than the definition nests, however many items a
 * map has. Tasks wait in a FIFO queue for one of the run's `maxInflightTasks` slots.
 */
import { evaluateCondition } from './condition.js'
import { InvalidRunOptionsError, InvalidRunSnapshotError } from './errors.js'
import { resolveJsonPath } from './json-path.js'
import { describeValue, jsonTypeName } from './json-value.js'
import { DEFAULT_MAX_INFLIGHT_TASKS } from './limits.js'
import type { ChoiceNode, ChoreographyPlan, MapNode, PlanNode, TaskNode } from './plan.js'
import type { RunEffect, RunRejectionReason, StepError } from './run-effect.js'
import type { RunEvent, RunEventType } from './run-event.js'
import {
  RUN_SNAPSHOT_FORMAT,
  checkRunSnapshotShape,
  type FrameState,
  type RunSnapshot,
  type TaskRunState,
} from './run-snapshot.js'
import type { RunTrace, StepStatus, StepTrace, TaskRunStatus, TaskTrace } from './run-trace.js'
import { validateChoreography } from './validate-choreography.js'

export interface ChoreographyRunOptions {
  /** The invocation id: task ids are `${id}/t${n}`. */
  readonly id: string
  /** Tasks in flight at once over the whole run (default 256). */
  readonly maxInflightTasks?: number
}

/** One call handled, as the bounded log keeps it. */
export interface HandledRunEvent {
  readonly now: number
  readonly type: RunEventType | 'start' | 'unknown'
  readonly effects: number
  readonly rejected?: RunRejectionReason | undefined
}

const RECENT_EVENTS_KEPT = 64
const EVENT_TYPES: readonly RunEventType[] = ['task-completed', 'task-failed', 'tick']
const STEP_STATUSES: readonly StepStatus[] = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'skipped',
]
const TASK_RUN_STATUSES: readonly TaskRunStatus[] = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
]

class Rejection {
  constructor(
    readonly reason: RunRejectionReason,
    readonly message: string,
  ) {}
}

type Outcome = NonNullable<RunSnapshot['outcome']>

export class ChoreographyRun {
  readonly #plan: ChoreographyPlan
  readonly #id: string
  readonly #maxInflight: number
  #now = 0
  #started = false
  #startedAt: number | null = null
  #endedAt: number | null = null
  #outcome: Outcome | null = null
  #taskSeq = 0
  #frameSeq = 0
  /** Every frame by instance path, parents before children. */
  readonly #frames = new Map<string, FrameState>()
  /** Live tasks (queued or running) → their frame's path. */
  readonly #tasks = new Map<string, string>()
  /** Task ids waiting for a slot; entries that were cancelled meanwhile are skipped. */
  #queue: string[] = []
  #queueHead = 0
  #inflight = 0
  /** Paths of running frames with a deadline. */
  readonly #armed = new Set<string>()
  /** Frames that settled and whose parent has not heard of it yet (empty between calls). */
  #agenda: FrameState[] = []
  /** The effects of the call under way. */
  #effects: RunEffect[] = []
  readonly #recent: HandledRunEvent[] = []
  #recentNext = 0

  /** Throws InvalidRunOptionsError on a bad id or cap. `plan` comes from validateChoreography. */
  constructor(plan: ChoreographyPlan, options: ChoreographyRunOptions) {
    if (typeof options?.id !== 'string' || options.id === '') {
      throw new InvalidRunOptionsError('id must be a non-empty string')
    }
    const cap = options.maxInflightTasks ?? DEFAULT_MAX_INFLIGHT_TASKS
    if (!Number.isSafeInteger(cap) || cap < 1) {
      throw new InvalidRunOptionsError(`maxInflightTasks must be a positive integer, got ${cap}`)
    }
    if (plan.nodes.length === 0) throw new InvalidRunOptionsError('the plan has no steps')
    this.#plan = plan
    this.#id = options.id
    this.#maxInflight = cap
    this.#materialize(0, (plan.nodes[0] as PlanNode).path, null, 0)
  }

  get id(): string {
    return this.#id
  }

  get plan(): ChoreographyPlan {
    return this.#plan
  }

  /** Tasks invoked and not yet settled. */
  get inflight(): number {
    return this.#inflight
  }

  /** The outcome, once the run is done. */
  get outcome(): Outcome | undefined {
    return this.#outcome ?? undefined
  }

  /** Starts the run on `input` at time `now` (ms). Only once. */
  start(input: unknown, now: number): RunEffect[] {
    const rejection = !Number.isFinite(now)
      ? new Rejection('invalid-time', `now must be a finite number, got ${describeValue(now)}`)
      : this.#started
        ? new Rejection('already-started', `run ${this.#id} has already started`)
        : undefined
    if (rejection) return this.#reject('start', rejection)
    this.#now = now
    this.#started = true
    this.#startedAt = now
    this.#effects = []
    this.#begin(this.#root(), input ?? null)
    this.#workAgenda()
    return this.#finishCall('start')
  }

  /** Handles one event at time `now` (ms, monotonic: an earlier time counts as the latest seen). */
  handle(event: RunEvent, now: number): RunEffect[] {
    const given = typeof event === 'object' && event !== null ? (event.type as unknown) : undefined
    const type = EVENT_TYPES.find((known) => known === given) ?? 'unknown'
    const rejection = !Number.isFinite(now)
      ? new Rejection('invalid-time', `now must be a finite number, got ${describeValue(now)}`)
      : !this.#started
        ? new Rejection('not-started', `run ${this.#id} has not started`)
        : this.#validate(event)
    if (rejection) return this.#reject(type, rejection)
    this.#now = Math.max(this.#now, now)
    this.#effects = []
    this.#fireDeadlines()
    // What fell due may have overtaken the event (an answer arriving after its timeout).
    const overtaken = this.#validate(event)
    if (overtaken) {
      this.#effects.push({
        type: 'rejected',
        event: type,
        reason: overtaken.reason,
        message: overtaken.message,
      })
    } else {
      this.#apply(event)
    }
    return this.#finishCall(type, overtaken?.reason)
  }

  /** The earliest time at which `handle({ type: 'tick' }, t)` would do something, if any. */
  nextDeadline(): number | undefined {
    let next: number | undefined
    for (const path of this.#armed) {
      const deadline = (this.#frames.get(path) as FrameState).deadline as number
      if (next === undefined || deadline < next) next = deadline
    }
    return next
  }

  /** The last calls handled (at most 64), oldest first: for failing tests and the dashboard. */
  recentEvents(): readonly HandledRunEvent[] {
    return [...this.#recent.slice(this.#recentNext), ...this.#recent.slice(0, this.#recentNext)]
  }

  /** Per-step status, times, attempts and where each task ran. */
  trace(): RunTrace {
    const outcome = this.#outcome
    return {
      id: this.#id,
      choreography: this.#plan.name,
      status: outcome ? outcome.status : this.#started ? 'running' : 'pending',
      ...(this.#startedAt !== null && { startedAt: this.#startedAt }),
      ...(this.#endedAt !== null && { endedAt: this.#endedAt }),
      ...(outcome?.status === 'failed' && { error: outcome.error }),
      root: this.#traceOf(this.#root()),
    }
  }

  // ---------------------------------------------------------------- events

  #validate(event: RunEvent): Rejection | undefined {
    if (typeof event !== 'object' || event === null) {
      return new Rejection('invalid-event', 'event must be an object')
    }
    switch (event.type) {
      case 'tick':
        return undefined
      case 'task-completed':
      case 'task-failed': {
        if (typeof event.taskId !== 'string') {
          return new Rejection('invalid-event', 'taskId must be a string')
        }
        if (event.peerId !== undefined && typeof event.peerId !== 'string') {
          return new Rejection('invalid-event', 'peerId must be a string when given')
        }
        if (event.type === 'task-failed' && typeof event.error !== 'string') {
          return new Rejection('invalid-event', 'error must be a string')
        }
        const path = this.#tasks.get(event.taskId)
        if (path !== undefined) {
          const run = this.#currentRun(this.#frames.get(path) as FrameState)
          return run.status === 'running'
            ? undefined
            : new Rejection('unknown-task', `task ${event.taskId} has not been invoked yet`)
        }
        return this.#wasIssued(event.taskId)
          ? new Rejection(
              'stale-task',
              `task ${event.taskId} is no longer running: it settled, timed out or was cancelled`,
            )
          : new Rejection('unknown-task', `run ${this.#id} invoked no task ${event.taskId}`)
      }
      default:
        return new Rejection(
          'invalid-event',
          `unknown event type ${describeValue((event as { type?: unknown }).type)}`,
        )
    }
  }

  #wasIssued(taskId: string): boolean {
    const prefix = `${this.#id}/t`
    if (!taskId.startsWith(prefix)) return false
    const n = taskId.slice(prefix.length)
    return /^[1-9][0-9]*$/.test(n) && Number(n) <= this.#taskSeq
  }

  #apply(event: RunEvent): void {
    if (event.type === 'tick') return
    const frame = this.#frames.get(this.#tasks.get(event.taskId) as string) as FrameState
    const run = this.#endTask(frame, event.type === 'task-completed' ? 'succeeded' : 'failed')
    if (event.peerId !== undefined) run.peerId = event.peerId
    if (event.type === 'task-completed') {
      this.#succeed(frame, event.output ?? null)
    } else {
      run.error = event.error
      this.#fail(frame, { code: 'task-failed', message: event.error, step: frame.path }, true)
    }
    this.#workAgenda()
  }

  #fireDeadlines(): void {
    const due = [...this.#armed]
      .map((path) => this.#frames.get(path) as FrameState)
      .filter((frame) => (frame.deadline as number) <= this.#now)
      .sort(
        (a, b) =>
          (a.deadline as number) - (b.deadline as number) ||
          this.#node(a).depth - this.#node(b).depth ||
          a.seq - b.seq,
      )
    for (const frame of due) {
      // An earlier timeout may have cancelled it, or replaced it with a fresh copy.
      if (this.#frames.get(frame.path) !== frame || !this.#armed.has(frame.path)) continue
      const node = this.#node(frame)
      if (node.kind === 'task') {
        const run = this.#endTask(frame, 'timed-out')
        this.#effects.push({ type: 'cancel', taskId: run.taskId, reason: 'timeout' })
      }
      const error: StepError = {
        code: 'timeout',
        message: `timed out after ${node.timeoutMs} ms`,
        step: frame.path,
      }
      this.#fail(frame, error, true, 'timeout')
      this.#workAgenda()
    }
  }

  #finishCall(type: HandledRunEvent['type'], rejected?: RunRejectionReason): RunEffect[] {
    this.#pump()
    const outcome = this.#outcome
    if (outcome && this.#endedAt === null) {
      this.#endedAt = this.#now
      this.#effects.push(
        outcome.status === 'succeeded'
          ? { type: 'done', status: 'succeeded', output: outcome.output }
          : { type: 'done', status: 'failed', error: outcome.error },
      )
    }
    const effects = this.#effects
    this.#effects = []
    this.#remember({ now: this.#now, type, effects: effects.length, rejected })
    return effects
  }

  #reject(type: HandledRunEvent['type'], rejection: Rejection): RunEffect[] {
    this.#remember({ now: this.#now, type, effects: 1, rejected: rejection.reason })
    return [{ type: 'rejected', event: type, reason: rejection.reason, message: rejection.message }]
  }

  #remember(entry: HandledRunEvent): void {
    this.#recent[this.#recentNext] = entry
    this.#recentNext = (this.#recentNext + 1) % RECENT_EVENTS_KEPT
  }

  // ---------------------------------------------------------------- frames

  #root(): FrameState {
    return this.#frames.get((this.#plan.nodes[0] as PlanNode).path) as FrameState
  }

  #node(frame: FrameState): PlanNode {
    return this.#plan.nodes[frame.node] as PlanNode
  }

  #child(frame: FrameState, i: number): FrameState {
    return this.#frames.get(frame.children[i] as string) as FrameState
  }

  /** Creates a pending frame and those of its static sub-steps (a map's items come later). */
  #materialize(nodeId: number, path: string, parent: FrameState | null, index: number): FrameState {
    const node = this.#plan.nodes[nodeId] as PlanNode
    const frame: FrameState = {
      path,
      node: nodeId,
      parent: parent?.path ?? null,
      index,
      seq: ++this.#frameSeq,
      status: 'pending',
      attempts: 0,
      startedAt: null,
      endedAt: null,
      deadline: null,
      input: null,
      output: null,
      error: null,
      children: [],
      cursor: -1,
      running: 0,
      done: 0,
      total: null,
      outputs: null,
      runs: [],
    }
    this.#frames.set(path, frame)
    if (node.kind !== 'map') this.#materializeChildren(frame)
    return frame
  }

  #materializeChildren(frame: FrameState): void {
    const node = this.#node(frame)
    node.children.forEach((childId, i) => {
      const child = this.#plan.nodes[childId] as PlanNode
      frame.children.push(this.#materialize(childId, frame.path + child.rel, frame, i).path)
    })
  }

  /** Starts an attempt of `frame` on `input`. Goes down the tree; never settles the parent. */
  #begin(frame: FrameState, input: unknown): void {
    const node = this.#node(frame)
    frame.attempts++
    frame.status = 'running'
    frame.startedAt ??= this.#now
    frame.endedAt = null
    frame.input = input
    frame.output = null
    frame.deadline = null
    if (node.timeoutMs !== null && node.kind !== 'task') this.#arm(frame, node.timeoutMs)
    switch (node.kind) {
      case 'task':
        return this.#issue(frame)
      case 'sequence':
        frame.cursor = 0
        return this.#begin(this.#child(frame, 0), input)
      case 'parallel':
        frame.running = frame.children.length
        frame.outputs = frame.children.map(() => null)
        for (let i = 0; i < frame.children.length; i++) this.#begin(this.#child(frame, i), input)
        return
      case 'map':
        return this.#beginMap(frame, node, input)
      case 'choice':
        return this.#beginChoice(frame, node, input)
      case 'choreography':
        return this.#begin(this.#child(frame, 0), input)
    }
  }

  #beginMap(frame: FrameState, node: MapNode, input: unknown): void {
    const items = resolveJsonPath(node.items, input)
    if (!Array.isArray(items)) {
      const message = `items ${node.items.text} is not an array (it is ${jsonTypeName(items)})`
      return this.#fail(frame, { code: 'not-an-array', message, step: frame.path }, false)
    }
    frame.total = items.length
    frame.cursor = 0
    frame.running = 0
    frame.done = 0
    frame.outputs = items.map(() => null)
    if (items.length === 0) return this.#succeed(frame, [])
    this.#fillMap(frame)
  }

  /** Starts items until `maxConcurrency` run or none is left. */
  #fillMap(frame: FrameState): void {
    const node = this.#node(frame) as MapNode
    const items = resolveJsonPath(node.items, frame.input) as unknown[]
    const childId = node.children[0] as number
    const child = this.#plan.nodes[childId] as PlanNode
    while (frame.running < node.maxConcurrency && frame.cursor < items.length) {
      const i = frame.cursor++
      const item = this.#materialize(childId, `${frame.path}${child.rel}[${i}]`, frame, i)
      frame.children.push(item.path)
      frame.running++
      this.#begin(item, items[i] ?? null)
    }
  }

  #beginChoice(frame: FrameState, node: ChoiceNode, input: unknown): void {
    let chosen = node.branches.findIndex((branch) => evaluateCondition(branch.condition, input))
    if (chosen < 0 && node.otherwise) chosen = node.branches.length
    frame.cursor = chosen
    frame.children.forEach((_, i) => {
      if (i !== chosen) this.#skipPending(this.#child(frame, i))
    })
    if (chosen >= 0) return this.#begin(this.#child(frame, chosen), input)
    const message = `no branch of the choice matched and it has no otherwise`
    this.#fail(frame, { code: 'no-match', message, step: frame.path }, false)
  }

  #arm(frame: FrameState, timeoutMs: number): void {
    frame.deadline = this.#now + timeoutMs
    this.#armed.add(frame.path)
  }

  #disarm(frame: FrameState): void {
    frame.deadline = null
    this.#armed.delete(frame.path)
  }

  #succeed(frame: FrameState, output: unknown): void {
    frame.status = 'succeeded'
    frame.endedAt = this.#now
    frame.output = output
    frame.input = null
    frame.outputs = null
    this.#disarm(frame)
    this.#agenda.push(frame)
  }

  /**
   * Ends the current attempt of `frame` in failure: stops what runs below it, then retries
   * it if it has retries left and the failure is `retryable`, else settles it as failed.
   * A step does not retry a failure its own input decides (no-match, not-an-array); an
   * enclosing step does retry on it, since that re-runs tasks.
   */
  #fail(
    frame: FrameState,
    error: StepError,
    retryable: boolean,
    reason: 'timeout' | 'not-needed' = 'not-needed',
  ): void {
    this.#disarm(frame)
    this.#stopBelow(
      frame,
      `cancelled: ${error.step} ${error.code === 'timeout' ? 'timed out' : 'failed'}`,
      reason,
    )
    frame.error = error
    if (retryable && frame.attempts <= this.#node(frame).retries) {
      this.#forgetBelow(frame)
      if (this.#node(frame).kind !== 'map') this.#materializeChildren(frame)
      return this.#begin(frame, frame.input)
    }
    frame.status = 'failed'
    frame.endedAt = this.#now
    frame.input = null
    frame.outputs = null
    this.#agenda.push(frame)
  }

  /** Cancels every running task below `frame`, fails what runs and skips what is pending. */
  #stopBelow(frame: FrameState, message: string, reason: 'timeout' | 'not-needed'): void {
    const stack = [...frame.children].reverse()
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      const below = this.#frames.get(path) as FrameState
      if (below.status === 'running') {
        if (this.#node(below).kind === 'task') {
          const run = this.#currentRun(below)
          if (run.status === 'running')
            this.#effects.push({ type: 'cancel', taskId: run.taskId, reason })
          this.#endTask(below, 'cancelled')
        }
        below.status = 'failed'
        below.endedAt = this.#now
        below.error = { code: 'cancelled', message, step: below.path }
        below.input = null
        below.outputs = null
        this.#disarm(below)
      } else if (below.status === 'pending') {
        below.status = 'skipped'
      }
      for (let i = below.children.length - 1; i >= 0; i--) stack.push(below.children[i] as string)
    }
  }

  /** Marks a pending sub-tree skipped (a branch not taken). */
  #skipPending(frame: FrameState): void {
    const stack = [frame.path]
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      const below = this.#frames.get(path) as FrameState
      if (below.status === 'pending') below.status = 'skipped'
      stack.push(...below.children)
    }
  }

  /** Deletes every frame below `frame` (they are settled or skipped): a retry starts afresh. */
  #forgetBelow(frame: FrameState): void {
    const stack = [...frame.children]
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      const below = this.#frames.get(path) as FrameState
      this.#frames.delete(path)
      for (const child of below.children) stack.push(child)
    }
    frame.children = []
  }

  /** Works off the agenda: each settled frame's parent takes its outcome. */
  #workAgenda(): void {
    for (let i = 0; i < this.#agenda.length; i++) {
      const child = this.#agenda[i] as FrameState
      if (this.#frames.get(child.path) !== child) continue // forgotten by a retry
      if (child.parent === null) {
        this.#settleRun(child)
        continue
      }
      const parent = this.#frames.get(child.parent) as FrameState
      if (parent.status !== 'running') continue // it failed already, for another reason
      this.#childSettled(parent, child)
    }
    this.#agenda = []
  }

  #childSettled(parent: FrameState, child: FrameState): void {
    if (child.status === 'failed') {
      return this.#fail(parent, child.error as StepError, true)
    }
    const output = child.output
    child.output = null
    const node = this.#node(parent)
    switch (node.kind) {
      case 'sequence':
        if (++parent.cursor < parent.children.length) {
          return this.#begin(this.#child(parent, parent.cursor), output)
        }
        return this.#succeed(parent, output)
      case 'parallel': {
        const outputs = parent.outputs as unknown[]
        outputs[child.index] = output
        if (--parent.running === 0) this.#succeed(parent, outputs)
        return
      }
      case 'map': {
        const outputs = parent.outputs as unknown[]
        outputs[child.index] = output
        parent.running--
        if (++parent.done === parent.total) return this.#succeed(parent, outputs)
        return this.#fillMap(parent)
      }
      case 'choice':
      case 'choreography':
        return this.#succeed(parent, output)
      case 'task':
        return
    }
  }

  #settleRun(root: FrameState): void {
    this.#outcome =
      root.status === 'succeeded'
        ? { status: 'succeeded', output: root.output }
        : { status: 'failed', error: root.error as StepError }
    root.output = null
  }

  // ---------------------------------------------------------------- tasks

  #currentRun(frame: FrameState): TaskRunState {
    return frame.runs[frame.runs.length - 1] as TaskRunState
  }

  /** Puts a new attempt of a task step in the queue: `#pump` invokes it when a slot is free. */
  #issue(frame: FrameState): void {
    const taskId = `${this.#id}/t${++this.#taskSeq}`
    frame.runs.push({
      taskId,
      attempt: frame.attempts,
      status: 'queued',
      invokedAt: null,
      endedAt: null,
      peerId: null,
      error: null,
    })
    this.#tasks.set(taskId, frame.path)
    this.#queue.push(taskId)
  }

  /** Ends the current attempt of a task step (its frame is the caller's to settle). */
  #endTask(frame: FrameState, status: TaskRunStatus): TaskRunState {
    const run = this.#currentRun(frame)
    if (run.status === 'running') {
      this.#inflight--
      run.endedAt = this.#now
    }
    run.status = status
    this.#tasks.delete(run.taskId)
    this.#disarm(frame)
    return run
  }

  /** Invokes queued tasks while slots are free. A task's timeout starts when it is invoked. */
  #pump(): void {
    while (this.#inflight < this.#maxInflight && this.#queueHead < this.#queue.length) {
      const taskId = this.#queue[this.#queueHead++] as string
      const path = this.#tasks.get(taskId)
      if (path === undefined) continue // cancelled while it waited
      const frame = this.#frames.get(path) as FrameState
      const run = this.#currentRun(frame)
      const node = this.#node(frame) as TaskNode
      run.status = 'running'
      run.invokedAt = this.#now
      this.#inflight++
      if (node.timeoutMs !== null) this.#arm(frame, node.timeoutMs)
      this.#effects.push({
        type: 'invoke',
        taskId,
        stepPath: frame.path,
        fn: node.fn,
        input: frame.input,
        attempt: run.attempt,
      })
    }
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead)
      this.#queueHead = 0
    }
  }

  // ---------------------------------------------------------------- trace

  #traceOf(frame: FrameState): StepTrace {
    const node = this.#node(frame)
    const children = frame.children.map((path) => this.#frames.get(path) as FrameState)
    return {
      path: frame.path,
      kind: node.kind,
      ...(node.name !== undefined && { name: node.name }),
      ...(node.kind === 'task' && { fn: node.fn }),
      ...(node.kind === 'choreography' && { choreography: node.choreography }),
      status: frame.status,
      attempts: frame.attempts,
      ...(frame.startedAt !== null && { startedAt: frame.startedAt }),
      ...(frame.endedAt !== null && { endedAt: frame.endedAt }),
      ...(frame.error !== null && { error: frame.error }),
      ...(node.kind === 'task' && { tasks: frame.runs.map(taskTrace) }),
      ...(node.kind === 'map' &&
        frame.total !== null && {
          items: {
            total: frame.total,
            started: children.length,
            succeeded: children.filter((c) => c.status === 'succeeded').length,
            failed: children.filter((c) => c.status === 'failed').length,
          },
        }),
      ...(node.kind === 'choice' &&
        frame.cursor >= 0 && {
          branch: frame.cursor < node.branches.length ? frame.cursor : ('otherwise' as const),
        }),
      ...(node.kind !== 'task' && { children: children.map((c) => this.#traceOf(c)) }),
    }
  }

  // ---------------------------------------------------------------- snapshots

  /** The whole state as plain JSON. `restore()` of it behaves exactly like this run. */
  snapshot(): RunSnapshot {
    return JSON.parse(
      JSON.stringify({
        format: RUN_SNAPSHOT_FORMAT,
        id: this.#id,
        maxInflightTasks: this.#maxInflight,
        source: this.#plan.source,
        now: this.#now,
        started: this.#started,
        startedAt: this.#startedAt,
        endedAt: this.#endedAt,
        outcome: this.#outcome,
        taskSeq: this.#taskSeq,
        frameSeq: this.#frameSeq,
        queue: this.#queue.slice(this.#queueHead).filter((taskId) => this.#tasks.has(taskId)),
        frames: [...this.#frames.values()],
      } satisfies RunSnapshot),
    ) as RunSnapshot
  }

  /** Rebuilds a run from `snapshot()`'s output. Throws InvalidRunSnapshotError if it is malformed. */
  static restore(snapshot: RunSnapshot): ChoreographyRun {
    checkRunSnapshotShape(snapshot)
    const { source } = snapshot
    const compiled = validateChoreography(
      { name: source.name, definition: source.definition },
      {
        functionExists: () => true,
        choreography: (name) =>
          Object.hasOwn(source.nested, name) ? source.nested[name] : undefined,
      },
    )
    if (!compiled.ok) {
      const first = compiled.errors[0]
      throw new InvalidRunSnapshotError(
        'source',
        `${first?.path ?? ''}: ${first?.message ?? 'invalid'}`,
      )
    }
    let run: ChoreographyRun
    try {
      run = new ChoreographyRun(compiled.plan, {
        id: snapshot.id,
        maxInflightTasks: snapshot.maxInflightTasks,
      })
    } catch (err) {
      throw new InvalidRunSnapshotError('', err instanceof Error ? err.message : String(err))
    }
    run.#load(snapshot)
    return run
  }

  #load(s: RunSnapshot): void {
    const fail = (path: string, message: string): never => {
      throw new InvalidRunSnapshotError(path, message)
    }
    const time = (value: unknown, path: string): number | null =>
      value === null || Number.isFinite(value)
        ? (value as number | null)
        : fail(path, 'must be null or a finite number')
    this.#frames.clear()
    this.#now = s.now
    this.#started = s.started
    this.#startedAt = time(s.startedAt, 'startedAt')
    this.#endedAt = time(s.endedAt, 'endedAt')
    this.#outcome = checkOutcome(s.outcome, fail)
    this.#taskSeq = s.taskSeq
    this.#frameSeq = s.frameSeq
    s.frames.forEach((f, i) => {
      const at = `frames[${i}]`
      if (typeof f !== 'object' || f === null) fail(at, 'must be an object')
      if (typeof f.path !== 'string' || this.#frames.has(f.path)) {
        fail(`${at}.path`, 'missing or duplicate')
      }
      const node =
        (Number.isSafeInteger(f.node) ? this.#plan.nodes[f.node] : undefined) ??
        fail(`${at}.node`, `no step ${describeValue(f.node)} in the plan`)
      if (f.parent === null) {
        if (i !== 0 || f.node !== 0 || f.path !== node.path)
          fail(at, 'only the first frame is the root')
      } else {
        const parent = this.#frames.get(f.parent) ?? fail(`${at}.parent`, 'unknown or later frame')
        if (node.parent !== parent.node) fail(`${at}.node`, 'is not a sub-step of its parent')
        if (!f.path.startsWith(parent.path + node.rel)) {
          fail(`${at}.path`, 'does not extend its parent')
        }
      }
      if (!STEP_STATUSES.includes(f.status))
        fail(`${at}.status`, `unknown status ${describeValue(f.status)}`)
      for (const key of ['index', 'seq', 'attempts', 'cursor', 'running', 'done'] as const) {
        if (!Number.isSafeInteger(f[key])) fail(`${at}.${key}`, 'must be an integer')
      }
      if (!Array.isArray(f.children) || !f.children.every((c) => typeof c === 'string')) {
        fail(`${at}.children`, 'must be an array of paths')
      }
      if (!Array.isArray(f.runs)) fail(`${at}.runs`, 'must be an array')
      f.runs.forEach((run, j) => {
        if (
          typeof run !== 'object' ||
          run === null ||
          typeof run.taskId !== 'string' ||
          !TASK_RUN_STATUSES.includes(run.status) ||
          !Number.isSafeInteger(run.attempt)
        ) {
          fail(`${at}.runs[${j}]`, 'needs a taskId, an attempt and a known status')
        }
      })
      const frame: FrameState = {
        ...f,
        startedAt: time(f.startedAt, `${at}.startedAt`),
        endedAt: time(f.endedAt, `${at}.endedAt`),
        deadline: time(f.deadline, `${at}.deadline`),
        input: f.input ?? null,
        output: f.output ?? null,
        error: f.error ?? null,
        total: f.total ?? null,
        outputs: f.outputs ?? null,
        children: [...f.children],
        runs: f.runs.map((run) => ({ ...run })),
      }
      if (frame.status === 'running') this.#loadRunning(frame, node, at, fail)
      this.#frames.set(frame.path, frame)
    })
    for (const frame of this.#frames.values()) {
      const node = this.#node(frame)
      if (node.kind !== 'map' && frame.children.length !== node.children.length) {
        fail(`frames.${frame.path}.children`, `expected ${node.children.length} children`)
      }
      frame.children.forEach((path, i) => {
        const child = this.#frames.get(path)
        if (
          child?.parent !== frame.path ||
          child.index !== i ||
          child.node !== (node.kind === 'map' ? node.children[0] : node.children[i])
        ) {
          fail(`frames.${frame.path}.children[${i}]`, `bad child ${path}`)
        }
      })
    }
    s.queue.forEach((taskId, i) => {
      const path = this.#tasks.get(taskId)
      const frame = path === undefined ? undefined : this.#frames.get(path)
      if (!frame || this.#currentRun(frame).status !== 'queued') {
        fail(`queue[${i}]`, `${describeValue(taskId)} is not a queued task`)
      }
    })
    this.#queue = [...s.queue]
    this.#queueHead = 0
  }

  /** Checks what a running frame of `node`'s kind relies on, and indexes its task and deadline. */
  #loadRunning(
    frame: FrameState,
    node: PlanNode,
    at: string,
    fail: (path: string, message: string) => never,
  ): void {
    const n = frame.children.length
    if (frame.deadline !== null) this.#armed.add(frame.path)
    switch (node.kind) {
      case 'task': {
        const run = frame.runs[frame.runs.length - 1]
        if (!run || (run.status !== 'queued' && run.status !== 'running')) {
          fail(`${at}.runs`, 'a running task ends with a queued or running attempt')
        }
        this.#tasks.set(run.taskId, frame.path)
        if (run.status === 'running') this.#inflight++
        return
      }
      case 'sequence':
      case 'choice':
        if (frame.cursor < 0 || frame.cursor >= n) fail(`${at}.cursor`, 'no such child')
        return
      case 'parallel':
        if (!Array.isArray(frame.outputs) || frame.outputs.length !== n) {
          fail(`${at}.outputs`, 'must be an array, one per child')
        }
        if (frame.running < 1 || frame.running > n) fail(`${at}.running`, 'out of range')
        return
      case 'map': {
        const items = resolveJsonPath(node.items, frame.input)
        const total = frame.total
        if (!Array.isArray(items) || items.length !== total) {
          fail(`${at}.total`, 'does not match the items of the input')
        }
        if (!Array.isArray(frame.outputs) || frame.outputs.length !== total) {
          fail(`${at}.outputs`, 'must be an array, one per item')
        }
        if (frame.cursor !== n || n > total || frame.running > n || frame.done > n) {
          fail(`${at}.cursor`, 'item counts do not add up')
        }
        return
      }
      case 'choreography':
        if (n !== 1) fail(`${at}.children`, 'a choreography step has one child')
        return
    }
  }
}

function checkOutcome(
  outcome: unknown,
  fail: (path: string, message: string) => never,
): Outcome | null {
  if (outcome === null) return null
  const o = outcome as Record<string, unknown>
  if (o.status === 'succeeded') return { status: 'succeeded', output: o.output ?? null }
  if (o.status === 'failed' && typeof o.error === 'object' && o.error !== null) {
    return { status: 'failed', error: o.error as StepError }
  }
  return fail(
    'outcome',
    'must be null, { status: "succeeded", output } or { status: "failed", error }',
  )
}

function taskTrace(run: TaskRunState): TaskTrace {
  return {
    taskId: run.taskId,
    attempt: run.attempt,
    status: run.status,
    ...(run.invokedAt !== null && { invokedAt: run.invokedAt }),
    ...(run.endedAt !== null && { endedAt: run.endedAt }),
    ...(run.peerId !== null && { peerId: run.peerId }),
    ...(run.error !== null && { error: run.error }),
  }
}
