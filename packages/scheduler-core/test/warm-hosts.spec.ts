import { describe, expect, it } from 'vitest'
import { complete, effectsOf, makeScheduler, onlyDispatch, submit } from './helpers.js'

describe('the warm-host table', () => {
  it('says whether each dispatch is a cold start', () => {
    const s = makeScheduler({ capacity: 5 })
    expect(onlyDispatch(submit(s, 0, 'a')).coldStart).toBe(true)
    expect(onlyDispatch(submit(s, 1, 'b')).coldStart).toBe(true) // the first host is busy
    complete(s, 2, 'a')
    expect(onlyDispatch(submit(s, 3, 'c')).coldStart).toBe(false)
  })

  it('reaps a host idle for the configured time, and no sooner', () => {
    const s = makeScheduler({ idleHostTtlMs: 1000 })
    const d = onlyDispatch(submit(s, 0, 'a'))
    complete(s, 100, 'a')
    expect(s.nextDeadline()).toBe(1100)
    expect(s.handle({ type: 'tick' }, 1099)).toEqual([])
    expect(s.handle({ type: 'tick' }, 1100)).toEqual([
      { type: 'evict-host', worker: 'w1', hostId: d.hostId, fn: 'f', reason: 'idle' },
    ])
    expect(s.workers()[0]?.usedMb).toBe(0)
    expect(onlyDispatch(submit(s, 1200, 'b')).coldStart).toBe(true)
  })

  it('defaults to reaping after 600 s', () => {
    const s = makeScheduler()
    submit(s, 0, 'a')
    complete(s, 5, 'a')
    expect(s.nextDeadline()).toBe(600_005)
  })

  it('a host used again is not reaped on its old deadline', () => {
    const s = makeScheduler({ idleHostTtlMs: 1000 })
    submit(s, 0, 'a')
    complete(s, 10, 'a')
    submit(s, 500, 'b')
    expect(s.handle({ type: 'tick' }, 1010)).toEqual([])
    complete(s, 1500, 'b')
    expect(s.nextDeadline()).toBe(2500)
  })

  it('evicts the least recently used idle hosts when memory is needed', () => {
    const s = makeScheduler({
      workers: { w1: 600 },
      functions: [
        { name: 'a', memoryMb: 200 },
        { name: 'b', memoryMb: 200 },
        { name: 'c', memoryMb: 200 },
        { name: 'big', memoryMb: 400 },
      ],
    })
    const hosts: Record<string, string> = {}
    for (const [t, fn] of [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ] as const) {
      hosts[fn] = onlyDispatch(submit(s, t, fn, { fn })).hostId
    }
    // Idle in the order b, a, c: b is the least recently used.
    complete(s, 10, 'b')
    complete(s, 11, 'a')
    complete(s, 12, 'c')
    const effects = submit(s, 20, 'x', { fn: 'big' })
    expect(effectsOf(effects, 'evict-host')).toEqual([
      { type: 'evict-host', worker: 'w1', hostId: hosts.b, fn: 'b', reason: 'memory' },
      { type: 'evict-host', worker: 'w1', hostId: hosts.a, fn: 'a', reason: 'memory' },
    ])
    expect(onlyDispatch(effects)).toMatchObject({ fn: 'big', coldStart: true, overloaded: false })
    // c is still warm.
    expect(onlyDispatch(submit(s, 21, 'y', { fn: 'c' }))).toMatchObject({
      hostId: hosts.c,
      coldStart: false,
    })
  })

  it('never evicts a busy host', () => {
    const s = makeScheduler({
      workers: { w1: 400 },
      functions: [
        { name: 'a', memoryMb: 200 },
        { name: 'b', memoryMb: 400 },
      ],
    })
    submit(s, 0, 'busy', { fn: 'a' })
    const effects = submit(s, 1, 'x', { fn: 'b' })
    expect(effectsOf(effects, 'evict-host')).toEqual([])
    expect(onlyDispatch(effects).overloaded).toBe(true)
  })

  it('shares one host among concurrent invocations up to its concurrency', () => {
    const s = makeScheduler({
      workers: { w1: 256 },
      functions: [{ name: 'f', memoryMb: 256, concurrency: 3 }],
    })
    const ds = ['a', 'b', 'c'].map((id, i) => onlyDispatch(submit(s, i, id)))
    expect(new Set(ds.map((d) => d.hostId)).size).toBe(1)
    expect(ds.map((d) => d.coldStart)).toEqual([true, false, false])
    expect(onlyDispatch(submit(s, 3, 'd')).overloaded).toBe(true)
  })

  it('does not reuse a warm host of an older version', () => {
    const s = makeScheduler({ functions: [{ name: 'f', version: '1', memoryMb: 256 }] })
    const v1 = onlyDispatch(submit(s, 0, 'a'))
    complete(s, 1, 'a')
    s.handle({ type: 'function-registered', spec: { name: 'f', version: '2', memoryMb: 256 } }, 2)
    const v2 = onlyDispatch(submit(s, 3, 'b'))
    expect(v2).toMatchObject({ version: '2', coldStart: true })
    expect(v2.hostId).not.toBe(v1.hostId)
  })
})
