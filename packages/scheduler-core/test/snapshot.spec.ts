import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  InvalidSnapshotError,
  OwnerScheduler,
  PLACEMENT_POLICIES,
  type SchedulerEffect,
  type SchedulerEvent,
  type SchedulerSnapshot,
} from '../src/index.js'
import { seededRng } from '../src/testing.js'
import { complete, makeScheduler, submit } from './helpers.js'

/** A step of a generated history; references to live things are resolved when it runs. */
type Step =
  | { kind: 'submit'; fn: number; priority: 0 | 1; preemptible: boolean; queueTimeoutMs?: number }
  | { kind: 'complete' | 'fail' | 'release'; pick: number }
  | { kind: 'refuse' | 'lose-host'; pick: number }
  | { kind: 'health'; worker: number; health: 'healthy' | 'unhealthy' | 'offline' }
  | { kind: 'join'; worker: number }
  | { kind: 'capacity'; capacity: number }
  | { kind: 'redeploy'; fn: number; version: number }
  | { kind: 'wait'; ms: number; tick: boolean }

const FUNCTIONS = ['a', 'b', 'c']
const WORKERS = ['w0', 'w1', 'w2', 'w3']

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      fn: fc.nat(FUNCTIONS.length - 1),
      priority: fc.constantFrom(0 as const, 1 as const),
      preemptible: fc.boolean(),
      queueTimeoutMs: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom('complete' as const, 'fail' as const, 'release' as const),
      pick: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('refuse' as const, 'lose-host' as const),
      pick: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('health' as const),
      worker: fc.nat(WORKERS.length - 1),
      health: fc.constantFrom('healthy' as const, 'unhealthy' as const, 'offline' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('join' as const),
      worker: fc.nat(WORKERS.length + 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('capacity' as const), capacity: fc.nat(6) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('redeploy' as const),
      fn: fc.nat(FUNCTIONS.length - 1),
      version: fc.nat(2),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('wait' as const),
      ms: fc.integer({ min: 0, max: 3000 }),
      tick: fc.boolean(),
    }),
  },
)

/** What is live, learned from the effects: which invocations run at which attempt, and where. */
class Tracker {
  now = 0
  next = 0
  readonly running = new Map<string, number>()
  readonly dispatches = new Map<string, string>()
  readonly hosts = new Set<string>()

  observe(effects: readonly SchedulerEffect[]): void {
    for (const e of effects) {
      if (e.type === 'dispatch') {
        this.dispatches.set(e.dispatchId, e.hostId)
        this.hosts.add(e.hostId)
        for (const inv of e.invocations) this.running.set(inv.id, inv.attempt)
      } else if (e.type === 'cancel') {
        for (const id of e.invocationIds) this.running.delete(id)
      } else if (e.type === 'result') {
        this.running.delete(e.invocationId)
      } else if (e.type === 'evict-host') {
        this.hosts.delete(e.hostId)
      }
    }
  }

  /** The event a step stands for now, or undefined if it refers to nothing live. */
  eventFor(step: Step): SchedulerEvent | undefined {
    const pick = <T>(items: T[], n: number): T | undefined => items[n % Math.max(1, items.length)]
    switch (step.kind) {
      case 'submit':
        return {
          type: 'invocation-submitted',
          invocation: {
            id: `i${this.next++}`,
            fn: FUNCTIONS[step.fn] as string,
            priority: step.priority,
            preemptible: step.preemptible,
            input: { n: this.next },
            ...(step.queueTimeoutMs === undefined ? {} : { queueTimeoutMs: step.queueTimeoutMs }),
          },
        }
      case 'complete':
      case 'fail':
      case 'release': {
        const entry = pick([...this.running], step.pick)
        if (!entry) return undefined
        const [invocationId, attempt] = entry
        if (step.kind === 'complete')
          return { type: 'invocation-completed', invocationId, attempt, output: attempt }
        if (step.kind === 'fail')
          return { type: 'invocation-failed', invocationId, attempt, error: 'x' }
        return { type: 'invocation-released', invocationId, attempt }
      }
      case 'refuse': {
        const dispatchId = pick([...this.dispatches.keys()], step.pick)
        return dispatchId === undefined ? undefined : { type: 'dispatch-refused', dispatchId }
      }
      case 'lose-host': {
        const hostId = pick([...this.hosts], step.pick)
        return hostId === undefined ? undefined : { type: 'host-lost', hostId }
      }
      case 'health':
        return {
          type: 'worker-health',
          workerId: WORKERS[step.worker] as string,
          health: step.health,
        }
      case 'join':
        return { type: 'worker-joined', workerId: `w${step.worker}`, memoryMb: 512 }
      case 'capacity':
        return { type: 'capacity-changed', capacity: step.capacity }
      case 'redeploy':
        return {
          type: 'function-registered',
          spec: {
            name: FUNCTIONS[step.fn] as string,
            version: String(step.version),
            memoryMb: 128,
            maxRetries: 1,
            timeoutMs: 2000,
          },
        }
      case 'wait':
        // Time passes; the next event (of any kind) fires what fell due meanwhile.
        this.now += step.ms
        return step.tick ? { type: 'tick' } : undefined
    }
  }
}

function freshScheduler(placement: (typeof PLACEMENT_POLICIES)[number], seed: number) {
  const rng = seededRng(seed)
  const s = new OwnerScheduler(
    {
      owner: 'acme',
      provider: 'mesh',
      capacity: 3,
      placement,
      idleHostTtlMs: 4000,
    },
    { rng },
  )
  WORKERS.forEach((workerId) => s.handle({ type: 'worker-joined', workerId, memoryMb: 384 }, 0))
  FUNCTIONS.forEach((name, i) =>
    s.handle(
      {
        type: 'function-registered',
        spec: {
          name,
          memoryMb: 128 * (i + 1),
          concurrency: i + 1,
          maxRetries: 1,
          timeoutMs: 2000,
          ...(i === 2 ? { maxConcurrent: 1 } : {}),
          // Odd seeds batch: in twos where a host has the slots.
          ...(seed % 2 === 1 ? { batch: { size: Math.min(2, i + 1), waitMs: 20 } } : {}),
        },
      },
      0,
    ),
  )
  return { s, rng }
}

describe('snapshot and restore', () => {
  it('a restored scheduler behaves exactly like the original on any later events', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PLACEMENT_POLICIES),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(stepArb, { maxLength: 60 }),
        fc.array(stepArb, { maxLength: 60 }),
        (placement, seed, before, after) => {
          const { s: original, rng } = freshScheduler(placement, seed)
          const tracker = new Tracker()
          for (const step of before) {
            const event = tracker.eventFor(step)
            if (event) tracker.observe(original.handle(event, tracker.now))
          }
          // Through JSON text, as migration will carry it, into a scheduler given a fresh rng
          // of another seed: the snapshot's rng state is what makes it draw the same.
          const snapshot = JSON.parse(JSON.stringify(original.snapshot())) as SchedulerSnapshot
          expect(snapshot.rng).toBe(rng.state())
          const restored = OwnerScheduler.restore(snapshot, { rng: seededRng(seed + 1) })
          expect(restored.snapshot()).toEqual(original.snapshot())
          for (const step of after) {
            const event = tracker.eventFor(step)
            if (!event) continue
            const expected = original.handle(event, tracker.now)
            expect(restored.handle(event, tracker.now)).toEqual(expected)
            expect(restored.nextDeadline()).toBe(original.nextDeadline())
            tracker.observe(expected)
          }
          expect(restored.snapshot()).toEqual(original.snapshot())
          expect(restored.summary(tracker.now)).toEqual(original.summary(tracker.now))
        },
      ),
      {
        numRuns: 300,
        examples: [
          // Found by a run: a batch of a preemptible and a non-preemptible invocation stays
          // unpreemptible when the second finishes; the snapshot once lost that.
          [
            'warm-bounded',
            1,
            [
              { kind: 'submit', fn: 0, priority: 1, preemptible: true },
              { kind: 'submit', fn: 0, priority: 0, preemptible: false },
              { kind: 'submit', fn: 0, priority: 1, preemptible: false },
              { kind: 'submit', fn: 0, priority: 0, preemptible: false },
              { kind: 'complete', pick: 618893653 },
            ],
            [
              { kind: 'submit', fn: 0, priority: 0, preemptible: false },
              { kind: 'submit', fn: 0, priority: 0, preemptible: false },
            ],
          ],
        ],
      },
    )
  })

  it('keeps its invariants on any history: nothing lost, one result each, capacity held', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PLACEMENT_POLICIES),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(stepArb, { maxLength: 120 }),
        (placement, seed, steps) => {
          const { s } = freshScheduler(placement, seed)
          const tracker = new Tracker()
          const submitted: string[] = []
          const results = new Map<string, number>()
          for (const step of steps) {
            const event = tracker.eventFor(step)
            if (!event) continue
            if (event.type === 'invocation-submitted') submitted.push(event.invocation.id)
            const inflightBefore = s.inflight
            const effects = s.handle(event, tracker.now)
            tracker.observe(effects)
            for (const e of effects) {
              if (e.type === 'result')
                results.set(e.invocationId, (results.get(e.invocationId) ?? 0) + 1)
            }
            // In flight never exceeds capacity, except while draining a shrunk one.
            expect(s.inflight <= s.capacity || s.inflight <= inflightBefore).toBe(true)
            expect(s.workers().reduce((sum, w) => sum + w.load, 0)).toBe(s.inflight)
          }
          for (const id of submitted) {
            const live = s.invocationState(id) !== undefined
            expect(live ? 0 : 1, id).toBe(results.get(id) ?? 0)
          }
          expect([...results.values()].every((n) => n === 1)).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('is plain JSON', () => {
    const s = makeScheduler({ capacity: 1 })
    submit(s, 0, 'a', { input: { deep: [1, { x: 'y' }] } })
    submit(s, 1, 'b', { priority: 0 })
    const snapshot = s.snapshot()
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot)
    // b (high) preempted a (low): a waits, b runs.
    expect(snapshot.queued.map((q) => q.id)).toEqual(['a'])
    expect(snapshot.dispatches.map((d) => d.invocations.map((i) => i.id))).toEqual([['b']])
  })

  it('a restored scheduler finishes what the original had started', () => {
    const s = makeScheduler({ capacity: 1 })
    submit(s, 0, 'a')
    submit(s, 1, 'b')
    const r = OwnerScheduler.restore(s.snapshot(), { rng: seededRng(1) })
    const effects = complete(r, 2, 'a', 1, 'out')
    expect(effects.map((e) => e.type)).toEqual(['result', 'dispatch'])
  })

  it('restores a snapshot without rng state (written before it was carried) onto the given rng', () => {
    const s = makeScheduler({ capacity: 1 })
    submit(s, 0, 'a')
    const older: SchedulerSnapshot = { ...s.snapshot(), rng: undefined }
    const given = seededRng(7)
    const restored = OwnerScheduler.restore(older, { rng: given })
    expect(restored.snapshot().rng).toBe(given.state())
  })

  it('carries attempts and preemptions; a snapshot written before preemptions were counted restores 0', () => {
    const s = makeScheduler({ capacity: 1 })
    submit(s, 0, 'low', { priority: 1 })
    submit(s, 1, 'high', { priority: 0 })
    const snapshot = s.snapshot()
    const restored = OwnerScheduler.restore(snapshot, { rng: seededRng(1) })
    expect(restored.invocationProgress('low')).toEqual({
      state: 'queued',
      attempts: 1,
      preemptions: 1,
    })
    const older: SchedulerSnapshot = {
      ...snapshot,
      queued: snapshot.queued.map(({ preemptions: _, ...inv }) => inv),
    }
    const fromOlder = OwnerScheduler.restore(older, { rng: seededRng(1) })
    expect(fromOlder.invocationProgress('low')).toEqual({
      state: 'queued',
      attempts: 1,
      preemptions: 0,
    })
  })

  it('refuses malformed snapshots with the path of the problem', () => {
    const good = makeScheduler({ capacity: 1 })
    submit(good, 0, 'a')
    submit(good, 0, 'b')
    const base = good.snapshot()
    const broken: [string, unknown][] = [
      ['', null],
      ['format', { ...base, format: 'other/9' }],
      ['queued', { ...base, queued: 'nope' }],
      ['now', { ...base, now: 'later' }],
      ['counters.seq', { ...base, counters: { ...base.counters, seq: 1.5 } }],
      ['config', { ...base, config: { ...base.config, capacity: -1 } }],
      ['capacity', { ...base, capacity: -2 }],
      ['queued[0].fn', { ...base, queued: [{ ...base.queued[0], fn: 'ghost' }] }],
      ['queued[1].id', { ...base, queued: [base.queued[0], base.queued[0]] }],
      ['queued[0].preemptions', { ...base, queued: [{ ...base.queued[0], preemptions: -1 }] }],
      [
        'dispatches[0].hostId',
        { ...base, dispatches: [{ ...base.dispatches[0], hostId: 'nowhere' }] },
      ],
      ['workers[0].health', { ...base, workers: [{ ...base.workers[0], health: 'meh' }] }],
      ['hosts[0].worker', { ...base, hosts: [{ ...base.hosts[0], worker: 'ghost' }] }],
      ['rng', { ...base, rng: -1 }],
      ['rng', { ...base, rng: 2 ** 32 }],
    ]
    for (const [path, snapshot] of broken) {
      let error: unknown
      try {
        OwnerScheduler.restore(snapshot as SchedulerSnapshot, { rng: seededRng(1) })
      } catch (err) {
        error = err
      }
      expect(error, path).toBeInstanceOf(InvalidSnapshotError)
      expect((error as InvalidSnapshotError).path, path).toBe(path)
    }
  })
})
