/**
 * A responsible `chorus start` process stopped with SIGTERM hands its scheduler over whole:
 * the same GUID at epoch + 1, its queue, and its ledger of idempotency keys and results. So
 * a client that retries with the same keys through the other peers gets the same invocations,
 * and every first id is still found at the survivors (DESIGN.md invariant 3; issue 10, bugs
 * 1 and 7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call } from './support/http.js'
import { spawnMesh, waitFor, type SpawnedPeer } from './support/mesh.js'

interface SchedulerRow {
  owner: string
  provider: string
  guid: string
  epoch: number
  peerId: string
}

const OWNER = 'keyed'
const invocations = `/v1/owners/${OWNER}/functions/sleep/invocations`

describe('a responsible peer stopped with SIGTERM', () => {
  const peers: SpawnedPeer[] = []

  beforeAll(async () => {
    await spawnMesh(3, ['--owner-limit', '2', '--log-level', 'warn'], peers)
  }, 90_000)

  afterAll(async () => {
    await Promise.all(peers.map((p) => p.kill()))
  })

  it('hands its scheduler, queue and keys over: retries elsewhere get the same ids', async () => {
    const [survivorA, leaving, survivorB] = peers as [SpawnedPeer, SpawnedPeer, SpawnedPeer]
    // Ten keyed invocations through one peer, which becomes responsible; two run, eight wait.
    const first: string[] = []
    for (let i = 0; i < 10; i++) {
      const { status, body } = await call(leaving, 'POST', invocations, {
        input: { ms: 300 },
        wait: false,
        idempotencyKey: `job-${i}`,
      })
      expect(status).toBe(202)
      first.push(body.id as string)
    }
    const mine = (await call(leaving, 'GET', '/v1/mesh/schedulers?local=true')).body
      .schedulers as SchedulerRow[]
    const before = mine.find((s) => s.owner === OWNER)
    expect(before).toMatchObject({ peerId: leaving.peerId })
    if (before === undefined) return

    await leaving.kill('SIGTERM')
    expect(leaving.exit()).toMatchObject({ signal: null, code: 0 })

    // The same scheduler continues at one survivor, one epoch on.
    const holders: SchedulerRow[] = []
    for (const p of [survivorA, survivorB]) {
      const { body } = await call(p, 'GET', '/v1/mesh/schedulers?local=true')
      holders.push(...(body.schedulers as SchedulerRow[]).filter((s) => s.owner === OWNER))
    }
    expect(holders).toHaveLength(1)
    expect(holders[0]).toMatchObject({ guid: before.guid, epoch: before.epoch + 1 })

    // Retries with the same keys, through either survivor, are the same invocations.
    for (let i = 0; i < 10; i++) {
      const via = i % 2 === 0 ? survivorA : survivorB
      const { status, body } = await call(via, 'POST', invocations, {
        input: { ms: 300 },
        wait: false,
        idempotencyKey: `job-${i}`,
      })
      expect([200, 202]).toContain(status)
      expect(body.id).toBe(first[i])
    }

    // Every first id is found at both survivors, and each ran to the end.
    for (const p of [survivorA, survivorB]) {
      await waitFor(
        `every invocation to be found succeeded at ${p.peerId}`,
        async () => {
          for (const id of first) {
            const { status, body } = await call(p, 'GET', `/v1/invocations/${id}`)
            if (status !== 200 || body.status !== 'succeeded') return false
          }
          return true
        },
        15_000,
      )
    }
    for (const p of [survivorA, survivorB]) expect(p.exitedOnItsOwn()).toBe(false)
  }, 90_000)
})
