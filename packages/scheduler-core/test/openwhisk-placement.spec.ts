import { describe, expect, it } from 'vitest'
import {
  WorkerPermits,
  homeAndStep,
  invocationHash,
  javaHash,
  pairwiseCoprimeNumbersUntil,
  schedule,
  walkForWorker,
  type OpenWhiskWorker,
  type WorkerHealth,
} from '../src/index.js'
import { seededRng } from '../src/testing.js'

const healthy = (memoryMb: number): OpenWhiskWorker => ({
  health: 'healthy',
  permits: new WorkerPermits(memoryMb),
})

function order(home: number, step: number, n: number): number[] {
  const visited: number[] = []
  walkForWorker(n, home, step, (i) => {
    visited.push(i)
    return visited.length === n
  })
  return visited
}

describe('javaHash', () => {
  it('matches Java String.hashCode', () => {
    expect(javaHash('hello')).toBe(99162322)
    expect(javaHash('')).toBe(0)
    // Overflows 32 bits and wraps like Java's int.
    expect(javaHash('polygenelubricants')).toBe(-2147483648)
  })

  it('works over UTF-16 code units', () => {
    expect(javaHash('é')).toBe(233)
    expect(javaHash('😀')).toBe(0xd83d * 31 + 0xde00)
  })
})

describe('invocationHash', () => {
  it('is abs(javaHash(namespace) XOR javaHash(action))', () => {
    expect(invocationHash('acme', 'acme/resize')).toBe(
      Math.abs(javaHash('acme') ^ javaHash('acme/resize')),
    )
  })

  it('gives 2^31, not a negative number, where the XOR is -2^31', () => {
    // javaHash('polygenelubricants') is -2^31 and javaHash('') is 0.
    const h = invocationHash('polygenelubricants', '')
    expect(h).toBe(2 ** 31)
    const { home, step } = homeAndStep(h, 10, pairwiseCoprimeNumbersUntil(10))
    expect(home).toBe(2 ** 31 % 10)
    expect([1, 3, 7]).toContain(step)
  })
})

describe('pairwiseCoprimeNumbersUntil', () => {
  it.each([
    [0, []],
    [1, [1]],
    [2, [1]],
    [3, [1, 2]],
    [4, [1, 3]],
    [5, [1, 2, 3]],
    [6, [1, 5]],
    [7, [1, 2, 3, 5]],
    [8, [1, 3, 5, 7]],
    [9, [1, 2, 5, 7]],
    [10, [1, 3, 7]],
    [12, [1, 5, 7, 11]],
  ])('for %i is %j', (x, expected) => {
    expect(pairwiseCoprimeNumbersUntil(x)).toEqual(expected)
  })

  it('gives steps that visit every index exactly once for n in 1..500', () => {
    const failures: string[] = []
    for (let n = 1; n <= 500; n++) {
      for (const step of pairwiseCoprimeNumbersUntil(n)) {
        for (const start of [0, n >> 1, n - 1]) {
          if (new Set(order(start, step, n)).size !== n)
            failures.push(`n=${n} step=${step} start=${start}`)
        }
      }
    }
    expect(failures).toEqual([])
  })
})

describe('the walk', () => {
  it('for hash 13 among 10 workers starts at 3 and steps by 3', () => {
    const { home, step } = homeAndStep(13, 10, pairwiseCoprimeNumbersUntil(10))
    expect({ home, step }).toEqual({ home: 3, step: 3 })
    expect(order(home, step, 10)).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7, 0])
  })

  it('probes n + 2 times before giving up', () => {
    let probes = 0
    expect(walkForWorker(5, 0, 1, () => (probes++, false))).toBe(-1)
    expect(probes).toBe(7)
  })
})

describe('schedule (OpenWhisk test vectors)', () => {
  it('fills each worker in walk order, then forces onto random healthy ones', () => {
    // Workers with ids 3, 4, 5 at positions 0..2.
    const ids = [3, 4, 5]
    const workers = ids.map(() => healthy(3))
    const rng = seededRng(7)
    const landed: number[] = []
    for (let i = 0; i < 9; i++) {
      const r = schedule(
        workers,
        { action: 'a', memoryMb: 1, concurrency: 1, home: 0, step: 2 },
        rng,
      )
      expect(r?.forced).toBe(false)
      landed.push(ids[r?.position ?? -1] as number)
    }
    expect(landed).toEqual([3, 3, 3, 5, 5, 5, 4, 4, 4])
    const forcedOn = new Set<number>()
    for (let i = 0; i < 100; i++) {
      const r = schedule(
        workers,
        { action: 'a', memoryMb: 1, concurrency: 1, home: 0, step: 2 },
        rng,
      )
      expect(r?.forced).toBe(true)
      forcedOn.add(ids[r?.position ?? -1] as number)
    }
    expect([...forcedOn].sort()).toEqual([3, 4, 5])
    expect(workers.every((w) => w.permits.freeMemoryMb < 0)).toBe(true)
  })

  it('places requests of different sizes by memory', () => {
    const workers = [healthy(4), healthy(4), healthy(4)]
    const rng = seededRng(1)
    const landed = [3, 2, 1, 4, 2].map(
      (memoryMb, i) =>
        schedule(workers, { action: `a${i}`, memoryMb, concurrency: 1, home: 0, step: 1 }, rng)
          ?.position,
    )
    expect(landed).toEqual([0, 1, 0, 2, 1])
    expect(workers.map((w) => w.permits.freeMemoryMb)).toEqual([0, 0, 0])
  })

  it('shares a host among concurrent invocations before taking more memory', () => {
    const workers = [healthy(2), healthy(2), healthy(2)]
    const rng = seededRng(1)
    const landed = Array.from(
      { length: 18 },
      () =>
        schedule(workers, { action: 'c', memoryMb: 1, concurrency: 3, home: 0, step: 1 }, rng)
          ?.position,
    )
    expect(landed).toEqual([0, 1, 2].flatMap((w) => Array<number>(6).fill(w)))
  })

  it('only ever returns Healthy workers, in the walk and in the fallback', () => {
    const health: WorkerHealth[] = ['healthy', 'unhealthy', 'offline', 'healthy']
    const workers = health.map((h) => ({ health: h, permits: new WorkerPermits(1) }))
    const rng = seededRng(3)
    const positions = new Set<number>()
    for (let home = 0; home < 4; home++) {
      for (let i = 0; i < 25; i++) {
        const r = schedule(
          workers,
          { action: 'x', memoryMb: 1, concurrency: 1, home, step: 1 },
          rng,
        )
        positions.add(r?.position ?? -1)
      }
    }
    expect([...positions].sort()).toEqual([0, 3])
  })

  it('has no placement when no worker is Healthy, or there are none', () => {
    const workers: OpenWhiskWorker[] = [{ health: 'offline', permits: new WorkerPermits(8) }]
    const req = { action: 'x', memoryMb: 1, concurrency: 1, home: 0, step: 1 }
    expect(schedule(workers, req, seededRng(1))).toBeUndefined()
    expect(schedule([], req, seededRng(1))).toBeUndefined()
  })
})

describe('WorkerPermits', () => {
  it('gives the memory back only when all slots of a host are free', () => {
    const p = new WorkerPermits(10)
    expect(p.tryAcquire('c', 2, 4)).toBe(true)
    expect(p.freeMemoryMb).toBe(6)
    expect(p.tryAcquire('c', 2, 4)).toBe(true) // the host's second slot
    expect(p.freeMemoryMb).toBe(6)
    p.release('c', 2, 4)
    expect(p.freeMemoryMb).toBe(6)
    p.release('c', 2, 4)
    expect(p.freeMemoryMb).toBe(10)
  })

  it('refuses what does not fit and forces on request', () => {
    const p = new WorkerPermits(3)
    expect(p.tryAcquire('a', 1, 4)).toBe(false)
    expect(p.freeMemoryMb).toBe(3)
    p.forceAcquire('a', 1, 4)
    expect(p.freeMemoryMb).toBe(-1)
    p.release('a', 1, 4)
    expect(p.freeMemoryMb).toBe(3)
  })
})
