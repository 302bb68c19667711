/**
 * The graceful-leave protocol with fakes of its narrow components: what it tells whom, in
 * which order, and that it waits for the work signal (or its deadline, or stop) and
 * nothing else.
 */
import { describe, expect, it } from 'vitest'
import { Activity } from '../../src/activity.js'
import { GracefulLeave } from '../../src/mesh/graceful-leave.js'
import type { InvocationView } from '../../src/peer-api.js'
import type { SubmitRequest } from '../../src/scheduling/scheduler-host.js'
import { deferred } from '../deferred.js'

function setup(
  options: {
    live?: string[]
    drainMs?: number
    rng?: () => number
    /** Keys whose handover succeeds (none by default: each falls back to route/1). */
    handsOver?: string[]
  } = {},
) {
  const steps: string[] = []
  const handovers: { key: string; successor: string }[] = []
  const handedOff: { via: string; key: string; request: SubmitRequest }[] = []
  const work = new Activity()
  const queued = new Map<string, SubmitRequest[]>([
    ['acme/mesh', [{ id: 'i1', fn: 'f', input: 1, priority: 1 }]],
    ['beta/builtin', [{ id: 'i2', fn: 'echo', input: 2, priority: 0 }]],
  ])
  const leave = new GracefulLeave(
    {
      selfId: 'self',
      membership: {
        leave: () => {
          steps.push('announced')
          return Promise.resolve()
        },
        liveIds: () => options.live ?? ['self', 'p1', 'p2'],
      },
      remote: { drain: () => steps.push('remote drained') },
      host: {
        entries: () => [...queued.keys()].map((key) => ({ key, guid: 'g', epoch: 1 })),
        drainInto: (key, forward) => {
          steps.push(`drain ${key}`)
          for (const request of queued.get(key) ?? []) work.track(forward(request))
        },
      },
      handOver: (key, successor) => {
        handovers.push({ key, successor })
        return Promise.resolve(options.handsOver?.includes(key) ?? false)
      },
      handOff: (via, key, request) => {
        handedOff.push({ via, key, request })
        return Promise.resolve<InvocationView>({ id: request.id, status: 'queued', peerId: via })
      },
      work,
      rng: options.rng ?? (() => 0.9),
    },
    options.drainMs === undefined ? {} : { drainMs: options.drainMs },
  )
  return { leave, steps, handedOff, handovers, work }
}

describe('GracefulLeave', () => {
  it('hands each scheduler over whole, and drains only those whose handover failed', async () => {
    const { leave, steps, handedOff, handovers } = setup({ handsOver: ['acme/mesh'] })
    await leave.leave()
    expect(handovers.map((h) => h.key)).toEqual(['acme/mesh', 'beta/builtin'])
    expect(handovers.every((h) => h.successor === 'p2')).toBe(true)
    // acme/mesh went whole; beta/builtin's queue went invocation by invocation.
    expect(steps).toEqual(['remote drained', 'announced', 'drain beta/builtin'])
    expect(handedOff.map((h) => h.key)).toEqual(['beta/builtin'])
  })

  it('stops taking dispatches, announces, then hands every queue to a live peer', async () => {
    const { leave, steps, handedOff } = setup()
    expect(leave.leaving).toBe(false)
    await leave.leave()
    expect(leave.leaving).toBe(true)
    expect(steps).toEqual(['remote drained', 'announced', 'drain acme/mesh', 'drain beta/builtin'])
    // rng 0.9 of the two others picks the second; never this peer itself.
    expect(handedOff).toEqual([
      { via: 'p2', key: 'acme/mesh', request: { id: 'i1', fn: 'f', input: 1, priority: 1 } },
      { via: 'p2', key: 'beta/builtin', request: { id: 'i2', fn: 'echo', input: 2, priority: 0 } },
    ])
  })

  it('keeps its queues when nobody else is alive to take them', async () => {
    const { leave, steps, handedOff } = setup({ live: ['self'] })
    await leave.leave()
    expect(steps).toEqual(['remote drained', 'announced'])
    expect(handedOff).toEqual([])
  })

  it('waits until the work it owes is done, and no longer', async () => {
    const { leave, work } = setup({ drainMs: 3_600_000 })
    const running = deferred<void>()
    work.track(running.promise)
    let left = false
    const leaving = leave.leave().then(() => (left = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(left).toBe(false)
    running.resolve()
    await leaving
    expect(work.pending).toBe(0)
  })

  it('gives up waiting at its deadline', async () => {
    const { leave, work } = setup({ drainMs: 20 })
    work.track(new Promise(() => {}))
    const started = performance.now()
    await leave.leave()
    expect(performance.now() - started).toBeGreaterThanOrEqual(15)
    expect(work.pending).toBe(1)
  })

  it('stop() ends the wait at once', async () => {
    const { leave, work } = setup({ drainMs: 3_600_000 })
    work.track(new Promise(() => {}))
    const leaving = leave.leave()
    await new Promise((resolve) => setImmediate(resolve))
    leave.stop()
    await leaving
  })

  it('runs once', async () => {
    const { leave, steps } = setup()
    await leave.leave()
    await leave.leave()
    expect(steps.filter((s) => s === 'announced')).toHaveLength(1)
  })
})

describe('Activity', () => {
  it('is idle at once with nothing pending, and when the last tracked work settles, failed or not', async () => {
    const work = new Activity()
    await work.idle()
    const a = deferred<void>()
    const b = deferred<void>()
    work.track(a.promise)
    work.track(b.promise)
    let idle = false
    const waiting = work.idle().then(() => (idle = true))
    a.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect(idle).toBe(false)
    b.reject(new Error('failed work still ends'))
    await waiting
    expect(work.pending).toBe(0)
  })
})
