/**
 * What a peer gossips about its load is what it measured (issue 10, bug 3): the free memory
 * and warm hosts another peer reads in its summary are its worker pool's own counters, and
 * each scheduler's entry carries its arrival rate, how much of it other peers forwarded, and
 * whether it is migrating.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { LoadSummary } from '@chorus/gossip'
import { call } from './support/http.js'
import { startMesh, stopAll, waitFor, type TestPeer } from './support/mesh.js'
import { metricValue } from './support/metrics.js'

const WORKER_MB = 1024
const running: TestPeer[] = []
afterEach(async () => {
  await stopAll(running.splice(0))
})

/** `subject`'s latest summary as `observer` holds it. */
function summaryOf(observer: TestPeer, subject: TestPeer): LoadSummary | undefined {
  return observer.api.peers().find((p) => p.peerId === subject.peerId)?.load as
    LoadSummary | undefined
}

/** The worker pool's own counters, from the peer's /metrics. */
async function poolCounters(peer: TestPeer): Promise<{ usedMb: number; hosts: number }> {
  const text = await peer.api.metricsText()
  return {
    usedMb: metricValue(text, 'chorus_worker_memory_used_mb'),
    hosts: metricValue(text, 'chorus_function_hosts'),
  }
}

describe('load summaries', () => {
  it('publish the worker pool as it counts itself, and each scheduler with its rates', async () => {
    running.push(...(await startMesh(2, { workerMemoryMb: WORKER_MB, hostIdleMs: 600_000 })))
    const [a, b] = running as [TestPeer, TestPeer]
    for (const [name, memoryMb] of [
      ['small', 128],
      ['large', 256],
    ] as const) {
      const code = 'export default async (input) => input'
      const deployed = await call(a, 'POST', '/v1/owners/acme/functions', {
        name,
        runtime: 'nodejs',
        code,
        memoryMb,
      })
      expect(deployed.status).toBe(201)
    }
    // Half the invocations enter at each peer: the responsible serves some, is forwarded the rest.
    for (let i = 0; i < 12; i++) {
      const entry = i % 2 === 0 ? a : b
      const fn = i % 3 === 0 ? 'large' : 'small'
      const { status } = await call(entry, 'POST', `/v1/owners/acme/functions/${fn}/invocations`, {
        input: i,
      })
      expect(status).toBe(200)
    }
    const totalHosts = (await poolCounters(a)).hosts + (await poolCounters(b)).hosts
    expect(totalHosts).toBeGreaterThanOrEqual(2) // two functions, warm somewhere
    for (const [subject, observer] of [
      [a, b],
      [b, a],
    ] as const) {
      const pool = await poolCounters(subject)
      await waitFor(
        `${observer.peerId}'s view of ${subject.peerId} to match its pool (${JSON.stringify(pool)})`,
        () => {
          const s = summaryOf(observer, subject)
          return (
            s !== undefined &&
            s.workerCapacityMb === WORKER_MB &&
            s.freeMemoryMb === WORKER_MB - pool.usedMb &&
            s.warmFunctions === pool.hosts
          )
        },
        10_000,
      )
    }
    const responsible = a.api.schedulers(true).some((s) => s.owner === 'acme') ? a : b
    const other = responsible === a ? b : a
    await waitFor(
      'the scheduler entry to carry its arrival and forwarded rates',
      () => {
        const entry = summaryOf(other, responsible)?.schedulers.find((s) => s.owner === 'acme')
        return (
          entry !== undefined &&
          entry.migrating === false &&
          entry.arrivalRatePerSec > 0 &&
          entry.forwardedRatePerSec > 0 &&
          entry.forwardedRatePerSec < entry.arrivalRatePerSec
        )
      },
      10_000,
    )
    // And what the API lists for it at either peer says the same.
    const listed = other.api.schedulers(false).find((s) => s.owner === 'acme')
    expect(listed).toMatchObject({ peerId: responsible.peerId, state: 'active' })
  }, 60_000)
})
