/**
 * Test helpers for choreographies: compile a definition, and a simulated shell that answers
 * a run's invocations on a virtual clock (driven by `nextDeadline()`, never by real time).
 */
import {
  ChoreographyRun,
  validateChoreography,
  type ChoreographyPlan,
  type RunEffect,
  type RunEvent,
  type ValidationContext,
} from '../../src/choreography/index.js'

export const FUNCTIONS = ['f', 'g', 'h', 'resize', 'detect', 'thumbnail', 'store', 'classify']

export function context(
  choreographies: Record<string, unknown> = {},
  functions = FUNCTIONS,
): ValidationContext {
  return {
    functionExists: (name) => functions.includes(name),
    choreography: (name) =>
      Object.hasOwn(choreographies, name) ? choreographies[name] : undefined,
  }
}

/** Compiles `definition` as choreography `name`; fails the test if it does not validate. */
export function compile(
  definition: unknown,
  choreographies: Record<string, unknown> = {},
  name = 'test',
): ChoreographyPlan {
  const result = validateChoreography({ name, definition }, context(choreographies))
  if (!result.ok) throw new Error(`does not validate: ${JSON.stringify(result.errors, null, 2)}`)
  return result.plan
}

export function newRun(definition: unknown, options: { maxInflightTasks?: number } = {}) {
  return new ChoreographyRun(compile(definition), { id: 'r', ...options })
}

export type Invoke = Extract<RunEffect, { type: 'invoke' }>

export function invokes(effects: readonly RunEffect[]): Invoke[] {
  return effects.filter((e): e is Invoke => e.type === 'invoke')
}

/** What the simulated worker does with one invocation. */
export type Answer =
  | { readonly ok: unknown; readonly after?: number; readonly peer?: string }
  | { readonly error: string; readonly after?: number; readonly peer?: string }
  | 'hang'

export interface Simulation {
  /** Every (event, now) fed to the run after start, in order. */
  readonly events: { event: RunEvent; now: number }[]
  /** Every effect, in order, with the time of the call that produced it. */
  readonly effects: { effect: RunEffect; now: number }[]
  readonly done: Extract<RunEffect, { type: 'done' }>
  readonly now: number
  readonly maxInflight: number
}

/**
 * Runs `run` to completion: each invoke is answered per `answer` after its latency (10 ms
 * by default); time jumps to the next answer or deadline, whichever is first. Checks the
 * run's contract on the way (no rejection, done once and last, cancels only live tasks).
 */
export function simulate(
  run: ChoreographyRun,
  input: unknown,
  answer: (call: Invoke) => Answer,
  { start = 0, maxCalls = 1_000_000 } = {},
): Simulation {
  const events: Simulation['events'] = []
  const effects: Simulation['effects'] = []
  const pending = new Map<string, { at: number; seq: number; event: RunEvent }>()
  const live = new Set<string>()
  let seq = 0
  let done: Simulation['done'] | undefined
  let maxInflight = 0
  const take = (out: RunEffect[], now: number): void => {
    out.forEach((effect, i) => {
      effects.push({ effect, now })
      check(effect.type !== 'rejected', `no rejection: ${JSON.stringify(effect)}`)
      check(done === undefined, 'nothing after done')
      if (effect.type === 'done') {
        check(i === out.length - 1, 'done is the last effect')
        done = effect
      } else if (effect.type === 'invoke') {
        check(!live.has(effect.taskId), `a task is invoked once: ${effect.taskId}`)
        live.add(effect.taskId)
        const a = answer(effect)
        if (a !== 'hang') {
          const at = now + (a.after ?? 10)
          const peer = a.peer === undefined ? {} : { peerId: a.peer }
          const event: RunEvent =
            'ok' in a
              ? { type: 'task-completed', taskId: effect.taskId, output: a.ok, ...peer }
              : { type: 'task-failed', taskId: effect.taskId, error: a.error, ...peer }
          pending.set(effect.taskId, { at, seq: ++seq, event })
        }
      } else if (effect.type === 'cancel') {
        check(live.delete(effect.taskId), `cancel of a live task ${effect.taskId}`)
        pending.delete(effect.taskId)
      }
    })
    maxInflight = Math.max(maxInflight, live.size)
    check(run.inflight === live.size, `inflight ${run.inflight}, live ${live.size}`)
  }
  let now = start
  take(run.start(input, now), now)
  for (let calls = 0; !done; calls++) {
    if (calls > maxCalls) throw new Error('simulation did not finish')
    let next: { at: number; seq: number; event: RunEvent } | undefined
    for (const p of pending.values()) {
      if (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq)) next = p
    }
    const deadline = run.nextDeadline()
    if (next && (deadline === undefined || next.at < deadline)) {
      pending.delete((next.event as { taskId: string }).taskId)
      live.delete((next.event as { taskId: string }).taskId)
      now = next.at
      events.push({ event: next.event, now })
      take(run.handle(next.event, now), now)
    } else if (deadline !== undefined) {
      now = deadline
      events.push({ event: { type: 'tick' }, now })
      take(run.handle({ type: 'tick' }, now), now)
    } else {
      throw new Error(`stuck at ${now}: no answer pending and no deadline`)
    }
  }
  return { events, effects, done, now, maxInflight }
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`simulation: ${message}`)
}

/** A worker that answers every call with `{ fn, input }` after 10 ms, on peer p1. */
export function echo(call: Invoke): Answer {
  return { ok: { fn: call.fn, input: call.input }, peer: 'p1' }
}
