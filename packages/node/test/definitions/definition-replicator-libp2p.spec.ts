/**
 * Replicators on real libp2p hosts on 127.0.0.1: gossipsub carries deploys, PeerChannels
 * carry anti-entropy and code, and a rogue host serves tampered code.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CODE_FETCH_METHOD,
  DEFINITIONS_TOPIC,
  definitionReplicator,
  type DefinitionReplicator,
} from '../../src/definitions/definition-replicator.js'
import { gossipsubBroadcast } from '../../src/definitions/gossipsub-broadcast.js'
import { createLibp2pHost, type ChorusLibp2p } from '../../src/transport/libp2p-host.js'
import { PeerChannels } from '../../src/transport/peer-channels.js'
import { tempDir, waitFor } from './support.js'
import { captureLines } from '../capture-log.js'

interface Host {
  readonly id: string
  readonly libp2p: ChorusLibp2p
  readonly channels: PeerChannels
}

interface Peer extends Host {
  readonly defs: DefinitionReplicator
  readonly lines: string[]
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function host(): Promise<Host> {
  const libp2p = await createLibp2pHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  const channels = new PeerChannels(libp2p, { requestTimeoutMs: 5000 })
  await channels.start()
  cleanups.push(async () => {
    await channels.stop()
    await libp2p.stop()
  })
  return { id: libp2p.peerId.toString(), libp2p, channels }
}

async function peer(): Promise<Peer> {
  const h = await host()
  const { dir, remove } = await tempDir()
  cleanups.push(remove)
  const { log, lines } = captureLines()
  const defs = definitionReplicator({ syncIntervalMs: 3_600_000, chunkBytes: 64 * 1024 })({
    peerId: h.id,
    dataDir: dir,
    gossip: gossipsubBroadcast(h.libp2p.services.pubsub),
    rpc: h.channels,
    livePeers: () => h.libp2p.getPeers().map(String),
    log,
  })
  await defs.start()
  cleanups.push(() => defs.stop())
  return { ...h, defs, lines }
}

async function connect(from: Host, to: Host): Promise<void> {
  await from.libp2p.dial(to.libp2p.getMultiaddrs()[0]!)
}

/** Every host sees every other subscribed to the definitions topic. */
async function meshed(hosts: readonly Host[]): Promise<void> {
  await waitFor('gossipsub subscriptions to spread', () =>
    hosts.every((h) => {
      const subscribers = h.libp2p.services.pubsub.getSubscribers(DEFINITIONS_TOPIC).map(String)
      return hosts.every((other) => other === h || subscribers.includes(other.id))
    }),
  )
}

describe('DefinitionReplicator over libp2p', { timeout: 30_000 }, () => {
  it('spreads a deploy to every peer, and a peer fetches and checks its code', async () => {
    const peers = [await peer(), await peer(), await peer()]
    const [a, b, c] = peers as [Peer, Peer, Peer]
    await connect(b, a)
    await connect(c, a)
    await connect(c, b)
    await meshed(peers)
    const code = randomBytes(300 * 1024)
    const deployed = await a.defs.deployFunction(
      'acme',
      { name: 'images/resize', runtime: 'nodejs', timeoutMs: 5000 },
      code,
    )
    expect(deployed.version).toBe(1)
    for (const p of [b, c]) {
      const fn = await waitFor(`${p.id} to learn of the deploy`, () =>
        p.defs.getFunction('acme', 'images/resize'),
      )
      expect(fn).toEqual(a.defs.getFunction('acme', 'images/resize'))
    }
    // c needs the code for a cold start: it comes from a, in 64 KiB chunks, and is checked.
    const path = await c.defs.fetchCode(deployed.digest!)
    // (Buffer.equals: a deep toEqual over 300 KiB takes seconds.)
    expect((await readFile(path)).equals(code)).toBe(true)
    expect(Buffer.from((await c.defs.readCode(deployed.digest!))!).equals(code)).toBe(true)

    // A peer that joins later, after missed gossip, catches up by anti-entropy at start.
    await b.defs.deployChoreography('acme', 'pipeline', { sequence: ['images/resize'] })
    await waitFor('a to see the choreography', () => a.defs.getChoreography('acme', 'pipeline'))
    const d = await peer()
    await connect(d, b)
    await d.defs.syncWith(b.id)
    expect(d.defs.getFunction('acme', 'images/resize')).toEqual(
      a.defs.getFunction('acme', 'images/resize'),
    )
    expect(d.defs.getChoreography('acme', 'pipeline')?.definition).toEqual({
      sequence: ['images/resize'],
    })
  })

  it('refuses code a rogue peer tampered with, and gets it from an honest one', async () => {
    const [a, b] = [await peer(), await peer()]
    const rogue = await host()
    await connect(b, a)
    await connect(rogue, b)
    await meshed([a, b])
    const code = new TextEncoder().encode('export default async (x) => x + 1\n')
    const { digest } = await a.defs.deployFunction('acme', { name: 'inc', runtime: 'nodejs' }, code)
    // The rogue answers every chunk request with other bytes of the same length.
    rogue.channels.handle(CODE_FETCH_METHOD, (body) => {
      const { offset } = body as { offset: number }
      const evil = new TextEncoder().encode('export default async (x) => x - 1\n')
      return { digest, size: evil.byteLength, offset, data: Buffer.from(evil).toString('base64') }
    })
    const path = await b.defs.fetchCode(digest!, [rogue.id])
    expect(await readFile(path)).toEqual(Buffer.from(code))
    expect(b.lines.join('\n')).toContain(`refused code from ${rogue.id}: its sha256 is`)

    // With only the rogue to ask, nothing is stored.
    const other = await a.defs.putCode(new TextEncoder().encode('export default () => 0\n'))
    await a.defs.stop()
    await a.libp2p.stop()
    await expect(b.defs.fetchCode(other, [rogue.id])).rejects.toThrow(/sha256 is [0-9a-f]{64}, not/)
    expect(await b.defs.readCode(other)).toBeUndefined()
  })
})
