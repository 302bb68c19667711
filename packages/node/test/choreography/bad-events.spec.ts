import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChoreographyRun, type RunEvent } from '../../src/choreography/index.js'
import { definition, input, script, scripted } from './arbitraries.js'
import { compile, newRun, simulate } from './helpers.js'

/** A run with r/t1 settled, r/t2 and r/t3 running and r/t4 queued for a slot. */
function busyRun(): ChoreographyRun {
  const run = newRun(
    {
      parallel: [
        { function: 'f' },
        { function: 'g', timeoutMs: 100 },
        { function: 'h' },
        { function: 'h' },
      ],
    },
    { maxInflightTasks: 2 },
  )
  run.start('x', 0)
  run.handle({ type: 'task-completed', taskId: 'r/t1', output: 1 }, 10)
  return run
}

function expectUnchanged(run: ChoreographyRun, call: () => unknown): unknown {
  const snapshot = run.snapshot()
  const trace = run.trace()
  const deadline = run.nextDeadline()
  const effects = call()
  expect(run.snapshot()).toEqual(snapshot)
  expect(run.trace()).toEqual(trace)
  expect(run.nextDeadline()).toBe(deadline)
  return effects
}

describe('bad calls are refused with the state unchanged', () => {
  it.each<[string, unknown, number, string, string]>([
    [
      'an unknown task',
      { type: 'task-completed', taskId: 'r/t99' },
      30,
      'unknown-task',
      'run r invoked no task r/t99',
    ],
    [
      "another run's task",
      { type: 'task-completed', taskId: 'other/t1' },
      30,
      'unknown-task',
      'run r invoked no task other/t1',
    ],
    [
      'a settled task',
      { type: 'task-completed', taskId: 'r/t1', output: 2 },
      30,
      'stale-task',
      'task r/t1 is no longer running: it settled, timed out or was cancelled',
    ],
    [
      'a failure of a settled task',
      { type: 'task-failed', taskId: 'r/t1', error: 'x' },
      30,
      'stale-task',
      'task r/t1 is no longer running',
    ],
    [
      'a task still queued',
      { type: 'task-completed', taskId: 'r/t4' },
      30,
      'unknown-task',
      'task r/t4 has not been invoked yet',
    ],
    [
      'a missing task id',
      { type: 'task-completed' },
      30,
      'invalid-event',
      'taskId must be a string',
    ],
    [
      'an error that is not a string',
      { type: 'task-failed', taskId: 'r/t2', error: { m: 1 } },
      30,
      'invalid-event',
      'error must be a string',
    ],
    [
      'a peer id that is not a string',
      { type: 'task-completed', taskId: 'r/t2', peerId: 7 },
      30,
      'invalid-event',
      'peerId must be a string when given',
    ],
    [
      'an unknown event type',
      { type: 'task-exploded', taskId: 'r/t2' },
      30,
      'invalid-event',
      'unknown event type "task-exploded"',
    ],
    ['an event that is not an object', 'tick', 30, 'invalid-event', 'event must be an object'],
    ['null', null, 30, 'invalid-event', 'event must be an object'],
    [
      'a time that is not a number',
      { type: 'tick' },
      Number.NaN,
      'invalid-time',
      'now must be a finite number, got NaN',
    ],
    [
      'an infinite time',
      { type: 'tick' },
      Number.POSITIVE_INFINITY,
      'invalid-time',
      'now must be a finite number',
    ],
  ])('%s', (_, event, now, reason, message) => {
    const run = busyRun()
    const effects = expectUnchanged(run, () => run.handle(event as RunEvent, now))
    expect(effects).toEqual([
      {
        type: 'rejected',
        event:
          typeof event === 'object' &&
          event !== null &&
          'type' in event &&
          event.type !== 'task-exploded'
            ? event.type
            : 'unknown',
        reason,
        message: expect.stringContaining(message) as unknown,
      },
    ])
  })

  it('a second start', () => {
    const run = busyRun()
    expect(expectUnchanged(run, () => run.start('y', 40))).toEqual([
      {
        type: 'rejected',
        event: 'start',
        reason: 'already-started',
        message: 'run r has already started',
      },
    ])
  })

  it('an event before the start', () => {
    const run = newRun({ function: 'f' })
    expect(expectUnchanged(run, () => run.handle({ type: 'tick' }, 0))).toEqual([
      { type: 'rejected', event: 'tick', reason: 'not-started', message: 'run r has not started' },
    ])
    expect(expectUnchanged(run, () => run.start('x', Number.NaN))).toMatchObject([
      { reason: 'invalid-time' },
    ])
  })

  it('and they are in the bounded log of handled calls', () => {
    const run = busyRun()
    run.handle({ type: 'task-completed', taskId: 'nope' }, 30)
    expect(run.recentEvents()).toEqual([
      { now: 0, type: 'start', effects: 2, rejected: undefined },
      { now: 10, type: 'task-completed', effects: 1, rejected: undefined },
      { now: 10, type: 'task-completed', effects: 1, rejected: 'unknown-task' },
    ])
  })

  it('whatever the event, at any point of any run', () => {
    const weird = fc.anything({ withNullPrototype: true, withBigInt: true, withBoxedValues: true })
    const garbage = fc.oneof(
      weird,
      fc.record({
        type: fc.oneof(fc.constantFrom('task-completed', 'task-failed', 'tick', 'nope'), weird),
        taskId: fc.oneof(fc.constantFrom('r/t1', 'r/t2', 'r/t3', 'r/t0', 'r/t01', 'r/t'), weird),
        error: fc.oneof(fc.string(), weird),
        peerId: fc.oneof(fc.string(), weird),
        output: fc.anything(),
      }),
    )
    fc.assert(
      fc.property(
        definition,
        input,
        script,
        fc.nat(),
        garbage,
        fc.oneof(fc.double(), weird),
        (def, value, answers, cutSeed, event, now) => {
          const first = new ChoreographyRun(compile(def), { id: 'r', maxInflightTasks: 2 })
          const sim = simulate(first, value, scripted(answers))
          const run = new ChoreographyRun(compile(def), { id: 'r', maxInflightTasks: 2 })
          run.start(value, 0)
          const cut = cutSeed % (sim.events.length + 1)
          for (const { event: e, now: t } of sim.events.slice(0, cut)) run.handle(e, t)
          const snapshot = run.snapshot()
          const effects = run.handle(event as RunEvent, now as number)
          const rejected = effects.length === 1 && effects[0]?.type === 'rejected'
          if (rejected) expect(run.snapshot()).toEqual(snapshot)
          else {
            // Only a well-formed event for a live task, or a tick, may pass.
            const e = event as { type?: unknown }
            expect(['tick', 'task-completed', 'task-failed']).toContain(e.type)
            expect(Number.isFinite(now)).toBe(true)
          }
        },
      ),
      { numRuns: 500 },
    )
  }, 60_000)
})
