/**
 * The libp2p host every peer runs: TCP, Noise, yamux, identify and gossipsub, with an optional
 * private-network pre-shared key so outsiders cannot even connect. (libp2p's ping service is
 * not run: SWIM's pings on the peer channels are the liveness check.)
 */
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { libp2pLoggerFor } from './silent-libp2p-logger.js'

// A `type`, not an `interface`: libp2p's service map needs an index signature.
export type ChorusServices = {
  identify: Identify
  pubsub: GossipSub
}

export type ChorusLibp2p = Libp2p<ChorusServices>

export interface Libp2pHostInit {
  privateKey: PrivateKey
  listen: readonly string[]
  /** The contents of a swarm key file (`/key/swarm/psk/1.0.0/` format). */
  psk?: Uint8Array
  /** Connections to keep; the mesh dials learned peers up to this many. */
  maxConnections?: number
}

export async function createLibp2pHost(init: Libp2pHostInit): Promise<ChorusLibp2p> {
  const logger = libp2pLoggerFor(process.env)
  return createLibp2p({
    ...(logger ? { logger } : {}),
    privateKey: init.privateKey,
    addresses: { listen: [...init.listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(init.psk ? { connectionProtector: preSharedKey({ psk: init.psk }) } : {}),
    connectionManager: {
      maxConnections: init.maxConnections ?? 64,
      // libp2p accepts 5 inbound connections per second per IP by default: a whole mesh
      // starting at once on one host (or behind one NAT) would be turned away.
      inboundConnectionThreshold: 100,
      // …and 10 handshakes in progress at once: too few when many peers join together.
      maxIncomingPendingConnections: 64,
    },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        floodPublish: true,
        heartbeatInterval: 700,
      }),
    },
  })
}
