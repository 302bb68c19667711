import { describe, expect, it } from 'vitest'
import {
  homeAndStep,
  invocationHash,
  pairwiseCoprimeNumbersUntil,
  type OwnerScheduler,
} from '../src/index.js'
import { complete, effectsOf, makeScheduler, onlyDispatch, submit } from './helpers.js'

const tenWorkers = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`w${i}`, 1024]))

function homeOf(fn: string, count: number): number {
  return homeAndStep(
    invocationHash('acme', `acme/${fn}`),
    count,
    pairwiseCoprimeNumbersUntil(count),
  ).home
}

describe('placement inside the scheduler', () => {
  for (const placement of ['openwhisk', 'warm-bounded'] as const) {
    it(`${placement}: a function's first invocation goes to its home worker, cold`, () => {
      const s = makeScheduler({ placement, workers: tenWorkers })
      const d = onlyDispatch(submit(s, 0, 'i1'))
      expect(d.worker).toBe(`w${homeOf('f', 10)}`)
      expect(d.coldStart).toBe(true)
      expect(d.overloaded).toBe(false)
    })

    it(`${placement}: the next invocation after completion reuses the warm host`, () => {
      const s = makeScheduler({ placement, workers: tenWorkers })
      const first = onlyDispatch(submit(s, 0, 'i1'))
      complete(s, 1, 'i1')
      const second = onlyDispatch(submit(s, 2, 'i2'))
      expect(second).toMatchObject({ worker: first.worker, hostId: first.hostId, coldStart: false })
    })
  }

  it('openwhisk piles concurrent invocations on the home while it has memory', () => {
    const s = makeScheduler({ placement: 'openwhisk', workers: tenWorkers })
    const workers = [0, 1, 2, 3].map((i) => onlyDispatch(submit(s, i, `i${i}`)).worker)
    expect(new Set(workers).size).toBe(1)
  })

  it('warm-bounded never loads a worker beyond ⌈(1+ε) × mean⌉ and spills along the walk', () => {
    const s = makeScheduler({
      placement: 'warm-bounded',
      loadBoundEpsilon: 0.25,
      workers: tenWorkers,
    })
    for (let i = 0; i < 40; i++) submit(s, i, `i${i}`)
    const loads = s.workers().map((w) => w.load)
    expect(loads.reduce((a, b) => a + b)).toBe(10) // capacity 10
    expect(Math.max(...loads)).toBeLessThanOrEqual(Math.ceil(1.25 * (10 / 10)))
    // The home worker got its share first.
    expect(s.workers()[homeOf('f', 10)]?.load).toBeGreaterThan(0)
  })

  it('warm-bounded prefers a worker with a warm host over the home with room', () => {
    const s = makeScheduler({ placement: 'warm-bounded', workers: tenWorkers, capacity: 20 })
    const home = `w${homeOf('f', 10)}`
    // The bound spreads three concurrent invocations over three workers, home first.
    const [h, a] = [0, 1, 2].map((i) => onlyDispatch(submit(s, i, `i${i}`)))
    expect(h?.worker).toBe(home)
    expect(a?.worker).not.toBe(home)
    complete(s, 10, 'i1')
    complete(s, 11, 'i0')
    // The home's host dies: the home has room but nothing warm; worker `a` is warm.
    s.handle({ type: 'host-lost', hostId: h?.hostId ?? '' }, 12)
    const next = onlyDispatch(submit(s, 13, 'next'))
    expect(next).toMatchObject({ worker: a?.worker, hostId: a?.hostId, coldStart: false })
  })

  it('skips unhealthy and offline workers but keeps their positions', () => {
    const s = makeScheduler({ placement: 'openwhisk', workers: tenWorkers })
    const home = homeOf('f', 10)
    s.handle({ type: 'worker-health', workerId: `w${home}`, health: 'unhealthy' }, 0)
    const d = onlyDispatch(submit(s, 1, 'i1'))
    expect(d.worker).not.toBe(`w${home}`)
    s.handle({ type: 'worker-health', workerId: `w${home}`, health: 'offline' }, 2)
    expect(s.workers().map((w) => w.id)).toEqual(Object.keys(tenWorkers))
    // Back again: the home is the home again.
    s.handle({ type: 'worker-joined', workerId: `w${home}`, memoryMb: 1024 }, 3)
    expect(onlyDispatch(submit(s, 4, 'i2')).worker).toBe(`w${home}`)
  })

  it('holds invocations while no worker is eligible, and places them when one joins', () => {
    const s = makeScheduler({ workers: {} })
    expect(submit(s, 0, 'i1')).toEqual([])
    expect(s.invocationState('i1')).toBe('queued')
    const d = onlyDispatch(s.handle({ type: 'worker-joined', workerId: 'late', memoryMb: 512 }, 5))
    expect(d.worker).toBe('late')
  })

  it('forces placement, flagged overloaded, when nothing fits', () => {
    const s = makeScheduler({ workers: { w1: 256, w2: 256 }, capacity: 5 })
    const overloaded = [0, 1, 2].map((i) => onlyDispatch(submit(s, i, `i${i}`)).overloaded)
    expect(overloaded).toEqual([false, false, true])
  })
})

describe('late binding: a worker host may refuse', () => {
  function refuse(s: OwnerScheduler, now: number, dispatchId: string) {
    return s.handle({ type: 'dispatch-refused', dispatchId }, now)
  }

  it('continues the walk on the next worker instead of failing', () => {
    const s = makeScheduler({ placement: 'openwhisk', workers: tenWorkers })
    const first = onlyDispatch(submit(s, 0, 'i1'))
    const retry = onlyDispatch(refuse(s, 1, first.dispatchId))
    expect(retry.worker).not.toBe(first.worker)
    expect(retry.invocations).toEqual([{ id: 'i1', attempt: 1, input: undefined }])
    expect(effectsOf(refuse(s, 1, first.dispatchId), 'rejected')[0]?.reason).toBe(
      'unknown-dispatch',
    )
    // The refused cold host was never created: nothing to evict, no memory held.
    expect(s.workers().find((w) => w.id === first.worker)?.usedMb).toBe(0)
  })

  it('waits when every worker refused, and retries after the backoff', () => {
    const s = makeScheduler({ workers: { w1: 1024 }, refusalBackoffMs: 100 })
    const first = onlyDispatch(submit(s, 0, 'i1'))
    expect(refuse(s, 10, first.dispatchId)).toEqual([])
    expect(s.invocationState('i1')).toBe('queued')
    expect(s.nextDeadline()).toBe(110)
    const again = onlyDispatch(s.handle({ type: 'tick' }, 110))
    expect(again.worker).toBe('w1')
  })

  it('offers the refusing worker again as soon as something completes on it', () => {
    const s = makeScheduler({ workers: { w1: 1024 }, capacity: 5 })
    onlyDispatch(submit(s, 0, 'a'))
    const b = onlyDispatch(submit(s, 1, 'b'))
    refuse(s, 2, b.dispatchId)
    expect(s.invocationState('b')).toBe('queued')
    expect(onlyDispatch(complete(s, 3, 'a')).invocations[0]?.id).toBe('b')
  })
})

describe('decidePlacement', () => {
  it('previews without changing what later dispatches do', () => {
    const full = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`w${i}`, 256]))
    const make = () => {
      const s = makeScheduler({ placement: 'openwhisk', workers: full, capacity: 100, seed: 5 })
      for (let i = 0; i < 10; i++) submit(s, 0, `fill${i}`)
      return s
    }
    const previewed = make()
    const untouched = make()
    const previews = [1, 2, 3].map(() => previewed.decidePlacement('f'))
    expect(previews.every((p) => p?.overloaded)).toBe(true)
    const next = onlyDispatch(submit(previewed, 1, 'x'))
    expect(previews[0]?.worker).toBe(next.worker)
    expect(next).toEqual(onlyDispatch(submit(untouched, 1, 'x')))
  })
})

describe('warm-bounded keeps warm hosts warm', () => {
  it('prefers a worker with free memory over evicting an idle host at home', () => {
    const workers = { w0: 256, w1: 256, w2: 256 }
    const setup = (placement: 'warm-bounded' | 'openwhisk') => {
      const s = makeScheduler({
        placement,
        workers,
        capacity: 10,
        functions: [
          { name: 'f', memoryMb: 256 },
          { name: 'g', memoryMb: 256 },
        ],
      })
      // g shares f's home (a property of the names): its idle host is there, nothing elsewhere.
      const home = homeOf('f', 3)
      expect(homeOf('g', 3)).toBe(home)
      submit(s, 0, 'g0', { fn: 'g' })
      complete(s, 1, 'g0')
      expect(s.workers()[home]?.hosts.map((h) => h.fn)).toEqual(['g@1'])
      return { s, home }
    }
    const bounded = setup('warm-bounded')
    const spared = onlyDispatch(submit(bounded.s, 20, 'x'))
    expect(spared.worker).not.toBe(`w${bounded.home}`)
    expect(effectsOf(submit(bounded.s, 21, 'y', { fn: 'g' }), 'dispatch')[0]?.coldStart).toBe(false)

    const walk = setup('openwhisk')
    const evicting = submit(walk.s, 20, 'x')
    expect(onlyDispatch(evicting).worker).toBe(`w${walk.home}`)
    expect(effectsOf(evicting, 'evict-host')).toHaveLength(1)
  })
})
