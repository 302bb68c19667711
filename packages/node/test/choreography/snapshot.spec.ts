import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ChoreographyRun,
  InvalidRunSnapshotError,
  RUN_SNAPSHOT_FORMAT,
  type RunEffect,
  type RunEvent,
  type RunSnapshot,
} from '../../src/choreography/index.js'
import { definition, input, script, scripted } from './arbitraries.js'
import { compile, newRun, simulate } from './helpers.js'

/** Feeds `events` to `run` and returns the effects of each call. */
function replay(
  run: ChoreographyRun,
  events: readonly { event: RunEvent; now: number }[],
): RunEffect[][] {
  return events.map(({ event, now }) => run.handle(event, now))
}

const viaJson = (snapshot: RunSnapshot): RunSnapshot =>
  JSON.parse(JSON.stringify(snapshot)) as RunSnapshot

describe('snapshot and restore', () => {
  it('give a run that behaves exactly like the original on later events', () => {
    fc.assert(
      fc.property(definition, input, script, fc.nat(), (def, value, answers, cutSeed) => {
        const original = new ChoreographyRun(compile(def), { id: 'r', maxInflightTasks: 4 })
        const sim = simulate(original, value, scripted(answers))
        const cut = cutSeed % (sim.events.length + 1)
        // Replay up to the cut, move the run through JSON, and replay the rest on the copy.
        const first = new ChoreographyRun(compile(def), { id: 'r', maxInflightTasks: 4 })
        const startEffects = first.start(value, 0)
        const before = replay(first, sim.events.slice(0, cut))
        const snapshot = first.snapshot()
        const restored = ChoreographyRun.restore(viaJson(snapshot))
        expect(restored.snapshot()).toEqual(snapshot)
        expect(restored.trace()).toEqual(first.trace())
        expect(restored.nextDeadline()).toBe(first.nextDeadline())
        expect(restored.inflight).toBe(first.inflight)
        const after = replay(restored, sim.events.slice(cut))
        // Together they produce exactly the effects of the uninterrupted run.
        expect([startEffects, ...before, ...after].flat()).toEqual(sim.effects.map((e) => e.effect))
        expect(restored.trace()).toEqual(original.trace())
        expect(restored.snapshot()).toEqual(original.snapshot())
      }),
      { numRuns: 500 },
    )
  }, 60_000)

  it('is deterministic: the same calls give the same effects, trace and snapshot', () => {
    fc.assert(
      fc.property(definition, input, script, (def, value, answers) => {
        const a = new ChoreographyRun(compile(def), { id: 'r' })
        const sim = simulate(a, value, scripted(answers))
        const b = new ChoreographyRun(compile(def), { id: 'r' })
        const effects = [b.start(value, 0), ...replay(b, sim.events)].flat()
        expect(effects).toEqual(sim.effects.map((e) => e.effect))
        expect(b.trace()).toEqual(a.trace())
        expect(b.snapshot()).toEqual(a.snapshot())
      }),
      { numRuns: 200 },
    )
  }, 60_000)

  it('are plain JSON', () => {
    const run = newRun({ parallel: [{ function: 'f', timeoutMs: 50 }, { map: { function: 'g' } }] })
    run.start([1, 2], 0)
    const snapshot = run.snapshot()
    expect(viaJson(snapshot)).toEqual(snapshot)
    expect(snapshot).toMatchObject({
      format: RUN_SNAPSHOT_FORMAT,
      id: 'r',
      source: {
        name: 'test',
        definition: { parallel: [{ function: 'f', timeoutMs: 50 }, { map: { function: 'g' } }] },
        nested: {},
      },
      queue: [],
    })
  })

  it('carry referenced choreographies, so restore needs no other definition', () => {
    const plan = compile({ choreography: 'inner' }, { inner: { function: 'f' } })
    const run = new ChoreographyRun(plan, { id: 'r' })
    run.start(1, 0)
    const restored = ChoreographyRun.restore(viaJson(run.snapshot()))
    expect(restored.plan).toEqual(plan)
    expect(restored.handle({ type: 'task-completed', taskId: 'r/t1', output: 2 }, 5)).toEqual([
      { type: 'done', status: 'succeeded', output: 2 },
    ])
  })

  it('do not emit done again for a finished run', () => {
    const run = newRun({ function: 'f' })
    run.start(1, 0)
    run.handle({ type: 'task-completed', taskId: 'r/t1', output: 2 }, 5)
    const restored = ChoreographyRun.restore(viaJson(run.snapshot()))
    expect(restored.outcome).toEqual({ status: 'succeeded', output: 2 })
    expect(restored.handle({ type: 'tick' }, 10)).toEqual([])
  })

  describe('restore refuses a malformed snapshot', () => {
    const base = (): RunSnapshot => {
      const run = newRun({
        sequence: [
          { parallel: [{ function: 'f' }, { map: { function: 'g' }, maxConcurrency: 1 }] },
        ],
      })
      run.start([1, 2], 0)
      return viaJson(run.snapshot())
    }
    type Mutable = { -readonly [K in keyof RunSnapshot]: unknown } & {
      frames: Record<string, unknown>[]
    }
    const frame = (s: Mutable, i: number) => s.frames[i] as Record<string, unknown>

    it.each<[string, string, (s: Mutable) => void]>([
      ['a wrong format', 'format', (s) => (s.format = 'v0')],
      ['no id', 'id', (s) => (s.id = '')],
      ['a bad time', 'now', (s) => (s.now = 'soon')],
      ['no frames', 'frames', (s) => (s.frames = [])],
      [
        'a source that does not compile',
        'source',
        (s) => (s.source = { name: 'x', definition: {}, nested: {} }),
      ],
      ['a frame of an unknown step', 'frames[1].node', (s) => (frame(s, 1).node = 99)],
      ['a duplicate frame', 'frames[2].path', (s) => (frame(s, 2).path = frame(s, 1).path)],
      ['an orphan frame', 'frames[1].parent', (s) => (frame(s, 1).parent = '/nowhere')],
      ['an unknown status', 'frames[0].status', (s) => (frame(s, 0).status = 'sleeping')],
      ['runs that are not an array', 'frames[2].runs', (s) => (frame(s, 2).runs = {})],
      ['a parallel without outputs', 'frames[1].outputs', (s) => (frame(s, 1).outputs = 'x')],
      ['a map whose counts do not add up', 'frames[3].cursor', (s) => (frame(s, 3).cursor = 7)],
      ['a queue of unknown tasks', 'queue[0]', (s) => (s.queue = ['r/t9'])],
      ['a bad outcome', 'outcome', (s) => (s.outcome = { status: 'maybe' })],
    ])('with %s', (_, path, mutate) => {
      const snapshot = base() as unknown as Mutable
      mutate(snapshot)
      let error: unknown
      try {
        ChoreographyRun.restore(snapshot as unknown as RunSnapshot)
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(InvalidRunSnapshotError)
      expect(error).toMatchObject({ path })
    })

    it('and throws nothing else, however it is damaged', () => {
      const snapshot = base()
      const keys = [
        'node',
        'parent',
        'path',
        'status',
        'children',
        'runs',
        'cursor',
        'running',
        'outputs',
        'total',
        'deadline',
        'index',
        'input',
      ]
      fc.assert(
        fc.property(
          fc.nat({ max: snapshot.frames.length - 1 }),
          fc.constantFrom(...keys),
          fc.oneof(
            fc.jsonValue(),
            fc.anything({ withNullPrototype: true, withBoxedValues: true }),
            fc.constant(undefined),
          ),
          (i, key, value) => {
            const damaged = viaJson(snapshot) as unknown as { frames: Record<string, unknown>[] }
            ;(damaged.frames[i] as Record<string, unknown>)[key] = value
            try {
              ChoreographyRun.restore(damaged as unknown as RunSnapshot)
            } catch (err) {
              expect(err).toBeInstanceOf(InvalidRunSnapshotError)
            }
          },
        ),
        { numRuns: 1000 },
      )
    }, 60_000)
  })
})
