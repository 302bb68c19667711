/**
 * A peer under bad input and change: garbage protocol frames, idle deallocation,
 * a restart that keeps its identity, a private network, and the HTTP API end to end.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { generateKey } from '@libp2p/pnet'
import { multiaddr } from '@multiformats/multiaddr'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { createLibp2pHost } from '../packages/node/src/transport/libp2p-host.js'
import { RPC_PROTOCOL } from '../packages/node/src/transport/peer-channels.js'
import { createLogger } from '../packages/node/src/observability/logger.js'
import { startPeer } from '../packages/node/src/peer.js'
import { encodeFrame } from '../packages/node/src/transport/frame-codec.js'
import {
  allSeeAll,
  startMesh,
  stopAll,
  tempDir,
  testConfig,
  waitFor,
  type TestPeer,
} from './support/mesh.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c().catch(() => undefined)))
})

async function mesh(
  count: number,
  overrides: Parameters<typeof startMesh>[1] = {},
): Promise<TestPeer[]> {
  const peers = await startMesh(count, overrides)
  cleanups.push(() => stopAll(peers))
  return peers
}

describe('garbage on the wire', () => {
  it.each([
    ['a frame over the size limit', new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3])],
    ['a frame that is not JSON', new Uint8Array([0, 0, 0, 3, 0xde, 0xad, 0xbe])],
    ['a JSON frame that is not a request', encodeFrame({ t: 'res', id: 'x', ok: 'maybe' })],
  ])('%s closes that stream with an error and leaves the peer healthy', async (_what, garbage) => {
    const [peer] = await mesh(1)
    const intruder = await createLibp2pHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    })
    cleanups.push(async () => intruder.stop())
    const stream = await intruder.dialProtocol(multiaddr(peer!.multiaddrs[0] ?? ''), RPC_PROTOCOL)
    const closed = new Promise<void>((resolve) => stream.addEventListener('close', () => resolve()))
    stream.send(garbage)
    await closed
    const answer = await peer!.api.invoke({ owner: 'acme', fn: 'echo', input: 'still here' })
    expect(answer).toMatchObject({ status: 'succeeded', output: 'still here' })
    // A libp2p node that does not speak Chorus never becomes a member.
    expect(peer!.api.peers().map((p) => p.peerId)).not.toContain(intruder.peerId.toString())
  })

  it('an unknown method gets an error answer, not a dropped stream', async () => {
    const [a, b] = await mesh(2)
    await waitFor('the two to meet', () => allSeeAll([a!, b!]))
    const intruder = await createLibp2pHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    })
    cleanups.push(async () => intruder.stop())
    const stream = await intruder.dialProtocol(multiaddr(a!.multiaddrs[0] ?? ''), RPC_PROTOCOL)
    const reply = new Promise<string>((resolve) =>
      stream.addEventListener('message', (evt) =>
        resolve(new TextDecoder().decode(evt.data.subarray().slice(4))),
      ),
    )
    stream.send(encodeFrame({ t: 'req', id: 1, m: 'no.such.method', b: {} }))
    expect(JSON.parse(await reply)).toMatchObject({
      t: 'res',
      id: 1,
      ok: false,
      e: { code: 'protocol-error' },
    })
    expect(stream.status).toBe('open')
  })
})

describe('idle deallocation', () => {
  it('frees a scheduler that saw no invocation for --scheduler-idle, and removes its entry', async () => {
    const [a, b] = await mesh(2, { schedulerIdleMs: 300 })
    await waitFor('the two to meet', () => allSeeAll([a!, b!]))
    const events: string[] = []
    const unsubscribe = a!.api.onEvent((e) => events.push(e.type))
    const unsubscribeB = b!.api.onEvent((e) => events.push(e.type))
    cleanups.push(async () => {
      unsubscribe()
      unsubscribeB()
      await Promise.resolve()
    })
    const first = await a!.api.invoke({ owner: 'idle', fn: 'echo', input: 1 })
    const holder = [a!, b!].find((p) => p.peerId === first.peerId)!
    const guid = holder.api.schedulers(true)[0]?.guid
    expect(guid).toBeDefined()
    await waitFor(
      'the scheduler to be freed',
      () => holder.api.schedulers(true).length === 0,
      10_000,
    )
    expect(events).toContain('scheduler-deallocated')
    // The next request makes a new responsible with a new GUID.
    await b!.api.invoke({ owner: 'idle', fn: 'echo', input: 2 })
    const again = [a!, b!].flatMap((p) => p.api.schedulers(true))
    expect(again).toHaveLength(1)
    expect(again[0]?.guid).not.toBe(guid)
  })
})

describe('identity and private networks', () => {
  it('a restarted peer keeps its peer id', async () => {
    const dataDir = await tempDir()
    const first = await startPeer(testConfig(dataDir))
    const id = first.api.peerId
    await first.stop()
    const second = await startPeer(testConfig(dataDir))
    cleanups.push(() => second.stop())
    expect(second.api.peerId).toBe(id)
  })

  it('peers with the same pre-shared key mesh; a peer without it cannot even connect', async () => {
    const dir = await tempDir()
    const keyFile = join(dir, 'swarm.key')
    const key = new Uint8Array(95)
    generateKey(key)
    await writeFile(keyFile, key)
    const [a, b] = await mesh(2, { pskFile: keyFile })
    await waitFor('the private peers to meet', () => allSeeAll([a!, b!]))
    const log: string[] = []
    const lines = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log.push((JSON.parse(chunk.toString()) as { msg: string }).msg)
        done()
      },
    })
    const outsider = await startPeer(
      testConfig(await tempDir(), { join: [a!.multiaddrs[0] ?? ''] }),
      { log: createLogger({ destination: lines }) },
    )
    cleanups.push(() => outsider.stop())
    await waitFor('the outsider to fail to join', () =>
      log.some((l) => l.startsWith('could not join')),
    )
    expect(outsider.api.peers().filter((p) => p.peerId !== outsider.api.peerId)).toEqual([])
    expect(a!.api.peers().map((p) => p.peerId)).not.toContain(outsider.api.peerId)
  }, 20_000)
})

describe('the HTTP API of a real peer', () => {
  it('invokes, reports, streams events, and refuses bad input', async () => {
    const [a, b] = await mesh(2)
    await waitFor('the two to meet', () => allSeeAll([a!, b!]))
    const post = (url: string, body: string, type = 'application/json') =>
      fetch(url, { method: 'POST', headers: { 'content-type': type }, body })
    const ok = await post(
      `${a!.httpUrl}/v1/owners/web/functions/echo/invocations`,
      JSON.stringify({ input: [1, 2] }),
    )
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ status: 'succeeded', output: [1, 2] })
    const queued = await post(
      `${a!.httpUrl}/v1/owners/web/functions/sleep/invocations`,
      JSON.stringify({ input: { ms: 10 }, wait: false }),
    )
    expect(queued.status).toBe(202)
    const { id } = (await queued.json()) as { id: string }
    await waitFor('the status to be known on the other peer', async () => {
      const res = await fetch(`${b!.httpUrl}/v1/invocations/${encodeURIComponent(id)}`)
      return res.status === 200 && ((await res.json()) as { status: string }).status === 'succeeded'
    })
    expect(
      (await post(`${a!.httpUrl}/v1/owners/web/functions/echo/invocations`, '{"input":')).status,
    ).toBe(400)
    expect(
      (await post(`${a!.httpUrl}/v1/owners/web/functions/nope/invocations`, '{}')).status,
    ).toBe(404)
    expect(
      (await post(`${a!.httpUrl}/v1/owners/web/functions/sleep/invocations`, '{"input":{"ms":-1}}'))
        .status,
    ).toBe(400)
    expect(
      (
        await post(
          `${a!.httpUrl}/v1/owners/web/functions/echo/invocations`,
          JSON.stringify({ input: 'x'.repeat(2_000_000) }),
        )
      ).status,
    ).toBe(413)
    const metrics = await (await fetch(`${a!.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/chorus_invocations_total\{status="succeeded"\} \d+/)
    expect(metrics).toMatch(/chorus_peers\{state="alive"\} 2/)
  })
})
