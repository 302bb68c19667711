/**
 * A responsible `chorus start` process paused with SIGSTOP long enough to be declared dead,
 * while a request forwarded to it waits in its socket and the client's retry with the same
 * idempotency key makes another peer responsible. After SIGCONT the paused peer must not run
 * the waiting request as a second invocation: it confirms its scheduler with the directory
 * first, finds it taken over, merges, and the request is routed to the new responsible — which
 * answers with the retry's invocation (DESIGN.md invariant 3; found by the simulator's `stall`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call } from './support/http.js'
import { spawnMesh, waitFor, type SpawnedPeer } from './support/mesh.js'
import { metricValue } from './support/metrics.js'

const OWNER = 'paused'
const invocations = `/v1/owners/${OWNER}/functions/sleep/invocations`

async function stateOf(at: SpawnedPeer, of: SpawnedPeer): Promise<string | undefined> {
  const { body } = await call(at, 'GET', '/v1/mesh/peers')
  return (body.peers as { peerId: string; state: string }[]).find((p) => p.peerId === of.peerId)
    ?.state
}

async function executions(peers: readonly SpawnedPeer[]): Promise<number> {
  let total = 0
  for (const p of peers) {
    const res = await fetch(`${p.httpUrl}/metrics`)
    total += metricValue(await res.text(), 'chorus_executions_total', { fn: 'sleep' })
  }
  return total
}

describe('a responsible peer paused past its suspicion timeout', () => {
  const peers: SpawnedPeer[] = []
  let stopped: SpawnedPeer | undefined

  beforeAll(async () => {
    await spawnMesh(3, ['--log-level', 'warn'], peers)
  }, 90_000)

  afterAll(async () => {
    // A stopped process still dies of SIGKILL; resume it first so nothing is left hanging.
    if (stopped?.exit() === undefined && stopped?.child.pid !== undefined)
      process.kill(stopped.child.pid, 'SIGCONT')
    await Promise.all(peers.map((p) => p.kill()))
  })

  it('does not run what reached it during the pause a second time', async () => {
    const [entry, responsible, other] = peers as [SpawnedPeer, SpawnedPeer, SpawnedPeer]
    // The responsible becomes it by serving the owner's first invocation.
    const warm = await call(responsible, 'POST', invocations, { input: { ms: 1 }, wait: true })
    expect(warm.status).toBe(200)
    const before = await executions(peers)

    stopped = responsible
    process.kill(responsible.child.pid as number, 'SIGSTOP')
    // Forwarded to the paused responsible: it waits in the responsible's socket.
    const firstTry = call(entry, 'POST', invocations, {
      input: { ms: 1 },
      wait: false,
      idempotencyKey: 'once',
    })
    await waitFor(
      'the others to declare the paused peer dead',
      async () =>
        (await stateOf(other, responsible)) === 'dead' &&
        (await stateOf(entry, responsible)) === 'dead',
      20_000,
    )
    // The client gives up on the first try and retries with the same key elsewhere.
    const retry = await call(other, 'POST', invocations, {
      input: { ms: 1 },
      wait: false,
      idempotencyKey: 'once',
    })
    expect(retry.status).toBe(202)

    process.kill(responsible.child.pid as number, 'SIGCONT')
    stopped = undefined
    const first = await firstTry
    expect([200, 202]).toContain(first.status)
    expect(first.body.id).toBe(retry.body.id)

    await waitFor(
      'the invocation to succeed',
      async () => {
        const { body } = await call(other, 'GET', `/v1/invocations/${retry.body.id as string}`)
        return body.status === 'succeeded'
      },
      15_000,
    )
    expect((await executions(peers)) - before).toBe(1)
    // The paused peer merged into the new responsible: one scheduler for the owner.
    await waitFor(
      'one scheduler for the owner',
      async () => {
        let count = 0
        for (const p of peers) {
          const { body } = await call(p, 'GET', '/v1/mesh/schedulers?local=true')
          count += (body.schedulers as { owner: string }[]).filter((s) => s.owner === OWNER).length
        }
        return count === 1
      },
      15_000,
    )
    for (const p of peers) expect(p.exitedOnItsOwn()).toBe(false)
  }, 90_000)
})
