/**
 * Two real libp2p peers on 127.0.0.1: what a peer answers for an unknown method, a known
 * method at a version it does not speak, and a malformed body, each a typed error on the
 * same channel, which goes on carrying requests after.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { DirectoryService } from '../../src/mesh/directory-service.js'
import { createLibp2pHost, type ChorusLibp2p } from '../../src/transport/libp2p-host.js'
import { PeerChannels } from '../../src/transport/peer-channels.js'
import { DIRECTORY_METHODS, RPC_PROTOCOL } from '../../src/transport/protocols.js'
import { captureLog } from '../capture-log.js'
import { waitFor } from '../wait-for.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function host(log = captureLog()) {
  const libp2p = await createLibp2pHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  const channels = new PeerChannels(libp2p, { requestTimeoutMs: 5000, log: log.log })
  await channels.start()
  cleanups.push(async () => {
    await channels.stop()
    await libp2p.stop()
  })
  return { id: libp2p.peerId.toString(), libp2p, channels, records: log.records }
}

/** The peer channel streams `from` holds to `to`. */
function rpcStreams(from: ChorusLibp2p, to: string): number {
  return from
    .getConnections()
    .filter((c) => c.remotePeer.toString() === to)
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === RPC_PROTOCOL).length
}

describe('a peer answering what it cannot serve', () => {
  it('answers unknown-method, unsupported-version and bad-request on one channel that keeps working', async () => {
    const a = await host()
    const b = await host()
    // b serves the directory, as every peer does.
    const directory = new DirectoryService({
      channels: b.channels,
      members: { selfId: b.id, liveIds: () => [b.id], isAlive: () => true },
      hosted: () => [],
      onLost: () => undefined,
    })
    directory.start()
    cleanups.push(() => Promise.resolve(directory.stop()))
    await a.libp2p.dial(b.libp2p.getMultiaddrs()[0]!)

    const claim = { key: 'acme/mesh' }
    await expect(a.channels.request(b.id, 'no.such.method/1', claim)).rejects.toMatchObject({
      code: 'unknown-method',
    })
    await expect(a.channels.request(b.id, 'dir.claim', claim)).rejects.toMatchObject({
      code: 'unknown-method',
    })
    await expect(a.channels.request(b.id, 'dir.claim/2', claim)).rejects.toMatchObject({
      code: 'unsupported-version',
      message: expect.stringMatching(/dir\.claim version 2 .*speaks version 1/) as unknown,
    })
    await expect(
      a.channels.request(b.id, DIRECTORY_METHODS.claim, { key: 42 }),
    ).rejects.toMatchObject({
      code: 'bad-request',
      message: expect.stringMatching(/key/) as unknown,
    })
    // The malformed claim claimed nothing.
    expect(directory.entries()).toEqual([])

    // The same channel still carries requests, and one-way messages.
    await expect(a.channels.request(b.id, DIRECTORY_METHODS.claim, claim)).resolves.toMatchObject({
      key: 'acme/mesh',
      peerId: a.id,
      epoch: 1,
    })
    a.channels.send(b.id, 'swim.ping/9', { probeId: 1, updates: [] })
    const refused = await waitFor('b to log the refused one-way message', () =>
      b.records.find((r) => r.msg === 'a one-way message was refused'),
    )
    expect(refused).toMatchObject({ method: 'swim.ping/9', peer: a.id })
    expect(directory.entries()).toHaveLength(1)
    expect(rpcStreams(a.libp2p, b.id)).toBe(1)
  })
})

describe('a one-way message that must wait for a channel', () => {
  it('says it waits, then that it left; once the channel is open it says nothing', async () => {
    const a = await host()
    const b = await host()
    const got: unknown[] = []
    b.channels.handle('test.note/1', (body) => void got.push(body))
    await a.libp2p.peerStore.merge(b.libp2p.peerId, { multiaddrs: b.libp2p.getMultiaddrs() })
    const told: string[] = []
    a.channels.sendTelling(b.id, 'test.note/1', 1, (outcome) => told.push(outcome))
    expect(told).toEqual(['connecting'])
    await waitFor('the note to arrive', () => got.length === 1)
    expect(told).toEqual(['connecting', 'sent'])
    a.channels.sendTelling(b.id, 'test.note/1', 2, (outcome) => told.push(`again ${outcome}`))
    await waitFor('the second note to arrive', () => got.length === 2)
    expect(told).toEqual(['connecting', 'sent'])
  })

  it('says it could not leave when no channel opens', async () => {
    const a = await host()
    const b = await host()
    const unreachable = b.id
    const addrs = b.libp2p.getMultiaddrs()
    await b.libp2p.stop() // its port is closed now: the dial is refused
    await a.libp2p.peerStore.merge(b.libp2p.peerId, { multiaddrs: addrs })
    const told: string[] = []
    a.channels.sendTelling(unreachable, 'test.note/1', 1, (outcome) => told.push(outcome))
    await waitFor('the send to give up', () => told.length === 2)
    expect(told).toEqual(['connecting', 'unsent'])
  })
})
