/**
 * Responsibility changing hands with nothing lost: two meshes that each made a responsible
 * for the same owner (as both sides of a partition would) are joined and the duplicates
 * merge; a responsible peer that leaves gracefully hands its queue to the others.
 */
import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { startPeer } from '../packages/node/src/peer.js'
import { metricSum } from './support/metrics.js'
import {
  allSeeAll,
  startMesh,
  stopAll,
  tempDir,
  testConfig,
  waitFor,
  type TestPeer,
} from './support/mesh.js'

const running: TestPeer[] = []
afterEach(async () => {
  await stopAll(running.splice(0))
})

describe('when a partition heals', () => {
  it('duplicate responsibles merge into one and every queued invocation runs exactly once', async () => {
    const sideA = await startMesh(2, { ownerLimit: 1 })
    running.push(...sideA)
    const sideB = await startMesh(2, { ownerLimit: 1 })
    running.push(...sideB)
    await waitFor('each side to converge', () => allSeeAll(sideA) && allSeeAll(sideB))

    // Each side makes its own responsible for the same owner.
    const a = await sideA[0]!.api.invoke({ owner: 'split', fn: 'echo', input: 'a' })
    const b = await sideB[0]!.api.invoke({ owner: 'split', fn: 'echo', input: 'b' })
    expect([a.status, b.status]).toEqual(['succeeded', 'succeeded'])
    // Queue work on side B: one runs, the rest wait (the owner's limit is 1).
    const queued = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        sideB[1]!.api.invoke({ owner: 'split', fn: 'sleep', input: { ms: 150 + i }, wait: false }),
      ),
    )
    const holders = () =>
      running.filter((p) => p.api.schedulers(true).some((s) => s.owner === 'split'))
    expect(holders()).toHaveLength(2)

    // Heal: a peer that knows both sides joins them into one mesh.
    const dataDir = await tempDir()
    const bridge = await startPeer(
      testConfig(dataDir, {
        ownerLimit: 1,
        join: [sideA[0]!.multiaddrs[0] ?? '', sideB[0]!.multiaddrs[0] ?? ''],
      }),
    )
    running.push({ ...bridge, peerId: bridge.api.peerId, dataDir })
    await waitFor('all five to see each other', () => allSeeAll(running), 20_000)
    await waitFor('one responsible to remain', () => holders().length === 1, 20_000)

    const outcomes = await Promise.all(
      queued.map((q) =>
        waitFor(
          `invocation ${q.id} to finish`,
          async () => {
            const v = await sideB[1]!.api.invocation(q.id)
            return v?.status === 'succeeded' || v?.status === 'failed' ? v : undefined
          },
          20_000,
        ),
      ),
    )
    expect(outcomes.map((o) => o.status)).toEqual(queued.map(() => 'succeeded'))
    expect(outcomes.map((o) => o.output)).toEqual(queued.map((_, i) => ({ sleptMs: 150 + i })))
    const sleeps = await metricSum(running, 'chorus_executions_total', { fn: 'sleep' })
    expect(sleeps).toBe(6)
    // New work goes to the survivor from anywhere.
    const after = await sideA[1]!.api.invoke({ owner: 'split', fn: 'echo', input: 'after' })
    expect(after.peerId).toBe(holders()[0]?.peerId)
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined)
  }, 60_000)
})

describe('when a responsible peer leaves gracefully', () => {
  it('hands its queued invocations to another peer and lets the running one finish', async () => {
    const peers = await startMesh(3, { ownerLimit: 1 })
    running.push(...peers)
    await waitFor('the mesh to converge', () => allSeeAll(peers))
    const first = await peers[0]!.api.invoke({ owner: 'leaving', fn: 'echo', input: 0 })
    const leaver = peers.find((p) => p.peerId === first.peerId)!
    const entry = peers.find((p) => p !== leaver)!
    const queued = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        entry.api.invoke({ owner: 'leaving', fn: 'sleep', input: { ms: 100 + i }, wait: false }),
      ),
    )
    const events: string[] = []
    entry.api.onEvent((e) => events.push(`${e.type}:${'member' in e ? e.member : ''}`))
    await leaver.stop()
    running.splice(running.indexOf(leaver), 1)
    const outcomes = await Promise.all(
      queued.map((q) =>
        waitFor(`invocation ${q.id} to finish`, async () => {
          const v = await entry.api.invocation(q.id)
          return v?.status === 'succeeded' || v?.status === 'failed' ? v : undefined
        }),
      ),
    )
    expect(outcomes.map((o) => o.output)).toEqual([1, 2, 3, 4].map((i) => ({ sleptMs: 100 + i })))
    expect(events).toContain(`member-left:${leaver.peerId}`)
    expect(events).not.toContain(`member-dead:${leaver.peerId}`)
    const stayers = peers.filter((p) => p !== leaver)
    const sleeps = await metricSum(stayers, 'chorus_executions_total', { fn: 'sleep' })
    // The one running at the leaver finished there; the three queued ran once each elsewhere.
    expect(sleeps).toBe(3)
  }, 30_000)
})
