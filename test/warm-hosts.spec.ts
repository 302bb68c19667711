/**
 * A scheduler's table of warm hosts follows the worker pools that run them (issue 10, bug
 * 2): when a pool reaps an idle host — on the scheduler's own peer, or on another peer's
 * worker — the scheduler hears it, so its next placement is a cold start it knows of, on a
 * new host, rather than a dispatch to a host that is gone.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startPeer } from '../packages/node/src/peer.js'
import { call } from './support/http.js'
import {
  allSeeAll,
  startMesh,
  stopAll,
  tempDir,
  testConfig,
  waitFor,
  type TestPeer,
} from './support/mesh.js'

const ECHO = 'export default async (input) => ({ echo: input, pid: process.pid })'

const running: TestPeer[] = []
afterEach(async () => {
  await stopAll(running.splice(0))
})

async function deploy(peer: TestPeer, owner: string): Promise<void> {
  const { status } = await call(peer, 'POST', `/v1/owners/${owner}/functions`, {
    name: 'echo2',
    runtime: 'nodejs',
    code: ECHO,
    memoryMb: 128,
  })
  expect(status).toBe(201)
}

async function invoke(peer: TestPeer, owner: string, input: unknown) {
  const { status, body } = await call(
    peer,
    'POST',
    `/v1/owners/${owner}/functions/echo2/invocations`,
    { input },
  )
  expect(status).toBe(200)
  expect(body).toMatchObject({ status: 'succeeded' })
  return body as { peerId: string; output: { pid: number } }
}

/** The warm hosts the scheduler of `owner` at `peer` believes it has. */
function warmHosts(peer: TestPeer, owner: string): number | undefined {
  return peer.api.schedulers(true).find((s) => s.owner === owner)?.warmHosts
}

describe('warm hosts, as the schedulers see them', () => {
  it('drop out of the scheduler when its own peer reaps them, and the next run starts a new one', async () => {
    running.push(...(await startMesh(1, { hostIdleMs: 500 })))
    const [peer] = running as [TestPeer]
    await deploy(peer, 'reap')
    const first = await invoke(peer, 'reap', 1)
    expect(warmHosts(peer, 'reap')).toBe(1)
    await waitFor('the pool to reap the idle host', () => warmHosts(peer, 'reap') === 0, 10_000)
    const second = await invoke(peer, 'reap', 2)
    expect(second.output.pid).not.toBe(first.output.pid)
    expect(warmHosts(peer, 'reap')).toBe(1)
  }, 30_000)

  it('drop out when the worker of another peer reaps them, told over the mesh', async () => {
    // The scheduler's peer has too little memory for the function: it runs on the other.
    running.push(...(await startMesh(1, { workerMemoryMb: 64, hostIdleMs: 600_000 })))
    const [scheduler] = running as [TestPeer]
    const dataDir = await tempDir()
    const workerPeer = await startPeer(
      testConfig(dataDir, { join: [scheduler.multiaddrs[0] ?? ''], hostIdleMs: 500 }),
    )
    const worker: TestPeer = { ...workerPeer, peerId: workerPeer.api.peerId, dataDir }
    running.push(worker)
    await waitFor('the two peers to see each other', () => allSeeAll(running), 15_000)
    await waitFor('the worker to offer its memory', () =>
      scheduler.api
        .peers()
        .some(
          (m) =>
            m.peerId === worker.peerId &&
            (m.load as { workerCapacityMb?: number } | undefined)?.workerCapacityMb === 2048,
        ),
    )
    await deploy(scheduler, 'far')
    await waitFor('the function at the worker', async () => {
      const { status } = await call(worker, 'GET', '/v1/owners/far/functions/echo2')
      return status === 200
    })
    const first = await invoke(scheduler, 'far', 1)
    expect(first.peerId).toBe(worker.peerId)
    expect(warmHosts(scheduler, 'far')).toBe(1)
    await waitFor(
      'the worker to reap it and say so',
      () => warmHosts(scheduler, 'far') === 0,
      10_000,
    )
    const second = await invoke(scheduler, 'far', 2)
    expect(second.peerId).toBe(worker.peerId)
    expect(second.output.pid).not.toBe(first.output.pid)
  }, 45_000)
})
