import { LoadView, newCoordinate, publishIntervals, type LoadSummary } from '@chorus/gossip'
import { describe, expect, it } from 'vitest'
import { VirtualTime } from '../../src/core/virtual-time.js'
import { LoadPublisher, type LocalLoad } from '../../src/mesh/load-publisher.js'
import { silentLogger } from '../../src/observability/logger.js'
import type { SchedulerInfo } from '../../src/peer-api.js'

const scheduler = (pending: number, extra: Partial<SchedulerInfo> = {}): SchedulerInfo => ({
  guid: 'g1',
  owner: 'acme',
  provider: 'builtin',
  peerId: 'self',
  epoch: 1,
  capacity: 10,
  pending,
  inflight: 0,
  arrivalRatePerSec: 4.5,
  forwardedRatePerSec: 1.5,
  state: 'active',
  ...extra,
})

function setup(alive = 3) {
  const time = new VirtualTime(1_000)
  const view = new LoadView()
  const published: { at: number; summary: LoadSummary }[] = []
  let checks = 0
  let load: LocalLoad = {
    schedulers: [scheduler(0)],
    worker: { capacityMb: 2048, freeMb: 1792, warmHosts: 2 },
  }
  const members = { alive }
  const publisher = new LoadPublisher({
    selfId: 'self',
    view,
    localLoad: () => {
      checks++
      return load
    },
    aliveMembers: () => members.alive,
    coordinate: () => newCoordinate(),
    publish: (summary) => {
      published.push({ at: time.now(), summary })
      return Promise.resolve()
    },
    clock: time,
    timers: time,
    wallClock: () => 1_700_000_000_000,
    log: silentLogger(),
  })
  return {
    time,
    view,
    published,
    publisher,
    members,
    checks: () => checks,
    setLoad: (next: LocalLoad) => {
      load = next
    },
  }
}

describe('LoadPublisher', () => {
  it('publishes what is measured: the worker pool and each scheduler as they are', () => {
    const t = setup()
    t.publisher.start()
    t.time.runFor(0)
    expect(t.published).toHaveLength(1)
    const summary = t.published[0]?.summary
    expect(summary).toMatchObject({
      peerId: 'self',
      workerCapacityMb: 2048,
      freeMemoryMb: 1792,
      warmFunctions: 2,
      schedulers: [
        {
          guid: 'g1',
          pending: 0,
          arrivalRatePerSec: 4.5,
          forwardedRatePerSec: 1.5,
          migrating: false,
        },
      ],
    })
    // Its own summary is in its view too.
    expect(t.view.get('self')?.summary.seq).toBe(summary?.seq)
  })

  it('while idle looks only at the regular interval, not every 250 ms', () => {
    const t = setup()
    t.publisher.start()
    t.time.runFor(0)
    const { maxMs } = publishIntervals(3)
    t.time.runFor(maxMs - 1)
    expect(t.checks()).toBe(1)
    t.time.runFor(1)
    expect(t.checks()).toBe(2)
    expect(t.published.map((p) => p.at - 1_000)).toEqual([0, maxMs])
  })

  it('publishes a significant change as soon as the budget allows, and a small one not before the interval', () => {
    const t = setup(41) // a budget of (41 − 1) / 20 = 2 s between publications
    const { minMs, maxMs } = publishIntervals(41)
    expect(minMs).toBe(2_000)
    t.publisher.start()
    t.time.runFor(0)
    t.time.runFor(100)
    t.setLoad({
      ...{ worker: { capacityMb: 2048, freeMb: 1792, warmHosts: 2 } },
      schedulers: [scheduler(8)],
    })
    t.publisher.loadChanged()
    t.time.runFor(minMs - 101)
    expect(t.published).toHaveLength(1)
    t.time.runFor(1)
    expect(t.published).toHaveLength(2)
    expect(t.published[1]).toMatchObject({
      at: 1_000 + minMs,
      summary: { schedulers: [{ pending: 8 }] },
    })
    // One more queued (8 → 9: under 25 %): checked, not published until the interval.
    t.setLoad({
      ...{ worker: { capacityMb: 2048, freeMb: 1792, warmHosts: 2 } },
      schedulers: [scheduler(9)],
    })
    for (let i = 0; i < 40; i++) {
      t.publisher.loadChanged()
      t.time.runFor(50)
    }
    expect(t.published).toHaveLength(2)
    // 40 changes over 2 s are looked at no more than every 250 ms.
    expect(t.checks()).toBeGreaterThan(2)
    expect(t.checks()).toBeLessThanOrEqual(2 + 2_000 / 250 + 1)
    t.time.advanceTo(1_000 + minMs + maxMs)
    expect(t.published).toHaveLength(3)
  })

  it('keeps the view expiry above the interval peers publish at as the mesh grows', () => {
    const t = setup(3)
    t.publisher.start()
    t.time.runFor(0)
    expect(t.view.expiryMs).toBe(10_000)
    t.members.alive = 1_000
    t.publisher.membersChanged()
    const { maxMs } = publishIntervals(1_000)
    expect(t.view.expiryMs).toBeGreaterThan(2 * maxMs)
  })

  it('publishes that a scheduler began migrating without waiting for the interval', () => {
    const t = setup()
    t.publisher.start()
    t.time.runFor(0)
    t.setLoad({
      worker: { capacityMb: 2048, freeMb: 1792, warmHosts: 2 },
      schedulers: [scheduler(0, { state: 'migrating' })],
    })
    t.publisher.loadChanged()
    t.time.runFor(publishIntervals(3).minMs)
    expect(t.published.at(-1)?.summary.schedulers[0]?.migrating).toBe(true)
  })

  it('never arms a check for the moment it is in, even where the arithmetic rounds onto it', () => {
    // 469.31… − 219.31… is 249.99…: not yet the 250 ms minimum, yet 219.31… + 250 is 469.31….
    const time = new VirtualTime(219.3119147043199)
    let checks = 0
    const load = (pending: number): LocalLoad => ({
      schedulers: [scheduler(pending)],
      worker: { capacityMb: 2048, freeMb: 2048, warmHosts: 0 },
    })
    let current = load(0)
    const publisher = new LoadPublisher({
      selfId: 'self',
      view: new LoadView(),
      localLoad: () => {
        checks++
        return current
      },
      aliveMembers: () => 2,
      coordinate: () => newCoordinate(),
      publish: () => Promise.resolve(),
      clock: time,
      timers: time,
      log: silentLogger(),
    })
    publisher.start()
    time.runFor(0)
    current = load(50)
    time.advanceTo(469.31191470431986)
    publisher.loadChanged()
    time.runFor(0)
    expect(checks).toBeLessThan(5)
    publisher.stop()
  })

  it('stops: no check after stop()', () => {
    const t = setup()
    t.publisher.start()
    t.time.runFor(0)
    t.publisher.stop()
    t.publisher.loadChanged()
    t.time.runFor(60_000)
    expect(t.checks()).toBe(1)
    expect(t.time.pendingCount).toBe(0)
  })
})
