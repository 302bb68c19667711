import { describe, expect, it } from 'vitest'
import {
  InvalidConfigError,
  OwnerScheduler,
  type SchedulerEvent,
  type RejectionReason,
} from '../src/index.js'
import { seededRng } from '../src/testing.js'
import { effectsOf, makeScheduler, onlyDispatch, submit } from './helpers.js'

/** Casts deliberately malformed events past the type checker, as bad wire input would come. */
const raw = (event: unknown): SchedulerEvent => event as SchedulerEvent

describe('bad input is rejected and changes nothing', () => {
  const s = makeScheduler({ capacity: 1, workers: { w1: 1024 } })
  const running = onlyDispatch(submit(s, 0, 'running'))
  submit(s, 0, 'queued-1')
  submit(s, 0, 'queued-2')

  const cases: [string, SchedulerEvent, RejectionReason][] = [
    [
      'a duplicate invocation id',
      raw({ type: 'invocation-submitted', invocation: { id: 'queued-1', fn: 'f' } }),
      'duplicate-invocation',
    ],
    [
      'an unknown function',
      raw({ type: 'invocation-submitted', invocation: { id: 'n', fn: 'nope' } }),
      'unknown-function',
    ],
    [
      'an empty invocation id',
      raw({ type: 'invocation-submitted', invocation: { id: '', fn: 'f' } }),
      'invalid-invocation',
    ],
    [
      'a bad priority',
      raw({ type: 'invocation-submitted', invocation: { id: 'p', fn: 'f', priority: 7 } }),
      'invalid-invocation',
    ],
    [
      'a NaN queue timeout',
      raw({ type: 'invocation-submitted', invocation: { id: 'p', fn: 'f', queueTimeoutMs: NaN } }),
      'invalid-invocation',
    ],
    ['no invocation at all', raw({ type: 'invocation-submitted' }), 'invalid-invocation'],
    [
      'completing an unknown invocation',
      raw({ type: 'invocation-completed', invocationId: 'ghost', attempt: 1 }),
      'unknown-invocation',
    ],
    [
      'completing a queued invocation',
      raw({ type: 'invocation-completed', invocationId: 'queued-1', attempt: 1 }),
      'stale-attempt',
    ],
    [
      'completing a wrong attempt',
      raw({ type: 'invocation-completed', invocationId: 'running', attempt: 2 }),
      'stale-attempt',
    ],
    [
      'failing without an error string',
      raw({ type: 'invocation-failed', invocationId: 'running', attempt: 1, error: 42 }),
      'invalid-event',
    ],
    [
      'failing with a code the core does not know',
      raw({
        type: 'invocation-failed',
        invocationId: 'running',
        attempt: 1,
        error: 'x',
        code: 'my-bad',
      }),
      'invalid-event',
    ],
    [
      'releasing an unknown invocation',
      raw({ type: 'invocation-released', invocationId: 'ghost', attempt: 1 }),
      'unknown-invocation',
    ],
    [
      'refusing an unknown dispatch',
      raw({ type: 'dispatch-refused', dispatchId: 'd999' }),
      'unknown-dispatch',
    ],
    ['losing an unknown host', raw({ type: 'host-lost', hostId: 'w9/h1' }), 'unknown-host'],
    [
      'health of an unknown worker',
      raw({ type: 'worker-health', workerId: 'w9', health: 'offline' }),
      'unknown-worker',
    ],
    [
      'an unknown health',
      raw({ type: 'worker-health', workerId: 'w1', health: 'grumpy' }),
      'invalid-event',
    ],
    [
      'a worker joining twice',
      raw({ type: 'worker-joined', workerId: 'w1', memoryMb: 64 }),
      'duplicate-worker',
    ],
    [
      'a worker with negative memory',
      raw({ type: 'worker-joined', workerId: 'w2', memoryMb: -1 }),
      'invalid-event',
    ],
    ['a negative capacity', raw({ type: 'capacity-changed', capacity: -3 }), 'invalid-capacity'],
    ['a NaN capacity', raw({ type: 'capacity-changed', capacity: NaN }), 'invalid-capacity'],
    [
      'a function with zero memory',
      raw({ type: 'function-registered', spec: { name: 'g', memoryMb: 0 } }),
      'invalid-function',
    ],
    [
      'a function with a batch of none',
      raw({ type: 'function-registered', spec: { name: 'g', batch: { size: 0 } } }),
      'invalid-function',
    ],
    [
      'a function with a batch larger than a host takes',
      raw({ type: 'function-registered', spec: { name: 'g', concurrency: 2, batch: { size: 3 } } }),
      'invalid-function',
    ],
    [
      'a function with a negative batch wait',
      raw({
        type: 'function-registered',
        spec: { name: 'g', concurrency: 2, batch: { size: 2, waitMs: -1 } },
      }),
      'invalid-function',
    ],
    [
      'a function without a name',
      raw({ type: 'function-registered', spec: {} }),
      'invalid-function',
    ],
    ['an unknown event type', raw({ type: 'explode' }), 'invalid-event'],
    ['not an object', raw('tick'), 'invalid-event'],
    ['null', raw(null), 'invalid-event'],
  ]

  it.each(cases)('%s', (_name, event, reason) => {
    const before = s.snapshot()
    const effects = s.handle(event, 1)
    expect(effects).toHaveLength(1)
    expect(effectsOf(effects, 'rejected')[0]?.reason).toBe(reason)
    expect(effectsOf(effects, 'rejected')[0]?.message).toMatch(/\w/)
    expect(s.snapshot()).toEqual(before)
  })

  it('a NaN time is rejected and changes nothing', () => {
    const before = s.snapshot()
    expect(effectsOf(s.handle({ type: 'tick' }, NaN), 'rejected')[0]?.reason).toBe('invalid-time')
    expect(s.snapshot()).toEqual(before)
  })

  it('is rejected before any deadline fires', () => {
    const t = makeScheduler({ capacity: 0 })
    submit(t, 0, 'expiring', { queueTimeoutMs: 10 })
    const effects = t.handle(raw({ type: 'capacity-changed', capacity: -1 }), 100)
    expect(effects.map((e) => e.type)).toEqual(['rejected'])
    expect(t.invocationState('expiring')).toBe('queued')
  })

  it('a time earlier than the last counts as the last', () => {
    const t = makeScheduler({ capacity: 0 })
    submit(t, 100, 'a', { queueTimeoutMs: 10 })
    submit(t, 50, 'b', { queueTimeoutMs: 10 })
    expect(t.nextDeadline()).toBe(110)
  })

  it('the running invocation was untouched by all of it', () => {
    expect(s.invocationState(running.invocations[0]?.id ?? '')).toBe('running')
  })

  it('a bad config throws a typed error', () => {
    const make = (config: object) => () =>
      new OwnerScheduler(
        { owner: 'o', provider: 'p', capacity: 1, ...config },
        { rng: seededRng(1) },
      )
    expect(make({ capacity: -1 })).toThrow(InvalidConfigError)
    expect(make({ capacity: NaN })).toThrow(/capacity/)
    expect(make({ owner: '' })).toThrow(/owner/)
    expect(make({ placement: 'magic' })).toThrow(/placement/)
    expect(make({ loadBoundEpsilon: 0 })).toThrow(/loadBoundEpsilon/)
  })
})
