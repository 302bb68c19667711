/**
 * Every name a peer speaks on the network, with its version, in one place: the libp2p
 * stream protocol of the peer channels, the RPC methods carried on it, and the gossipsub
 * topics. docs/PROTOCOLS.md describes each one's messages.
 *
 * The stream protocol's version covers the framing (length-prefixed JSON frames, see
 * `frame-codec.ts`); each method carries its own version as `<name>/<major>`, so one
 * message can change without the others. A peer answers a method it does not serve with
 * `unknown-method`, and one it serves at another version with `unsupported-version`.
 */

/** The peer channel: one long-lived stream per peer pair, carrying every method below. */
export const RPC_PROTOCOL = '/chorus/rpc/1.0.0'

/** Gossipsub topics (their payloads carry no further version). */
export const TOPICS = {
  /** SWIM membership updates a peer originates. */
  members: 'chorus/members/1',
  /** Load summaries. */
  load: 'chorus/load/1',
  /** Deploys and deletes of definitions. */
  definitions: 'chorus/defs/1',
} as const

/** Invocation routing between entry peers and responsibles (`mesh/router.ts`). */
export const ROUTER_METHODS = {
  invoke: 'invoke/1',
  route: 'route/1',
  result: 'result/1',
  status: 'status/1',
  localStatus: 'status.local/1',
} as const

/** The directory of responsibles (`mesh/directory-service.ts`). */
export const DIRECTORY_METHODS = {
  claim: 'dir.claim/1',
  register: 'dir.register/1',
  release: 'dir.release/1',
  lost: 'dir.lost/1',
  commit: 'dir.commit/1',
  lookup: 'dir.lookup/1',
} as const

/** A scheduler and its ledger moving to another peer (`mesh/scheduler-handover.ts`). */
export const HANDOVER_METHODS = {
  handover: 'scheduler.handover/1',
  result: 'scheduler.result/1',
  absorb: 'ledger.absorb/1',
} as const

/** SWIM failure detection, one-way messages (`mesh/mesh-membership.ts`). */
export const SWIM_METHODS = {
  ping: 'swim.ping/1',
  pingReq: 'swim.ping-req/1',
  ack: 'swim.ack/1',
  nack: 'swim.nack/1',
  sync: 'swim.sync/1',
} as const

/** Anti-entropy of definitions and code transfer (`definitions/definition-replicator.ts`). */
export const DEFINITIONS_METHODS = {
  sync: 'defs.sync/1',
  codeFetch: 'code.fetch/1',
} as const

/** Dispatches to another peer's worker (`scheduling/remote-worker.ts`). */
export const WORKER_METHODS = {
  execute: 'execute/1',
  cancel: 'execute.cancel/1',
  /** One-way, scheduler → worker: stop this named host (`scheduling/warm-host-sync.ts`). */
  evictHost: 'worker.evict-host/1',
  /** One-way, worker → scheduler: this named host left the pool. */
  hostGone: 'worker.host-gone/1',
} as const

/** Every RPC method, as it travels in a frame's `m`. */
export const RPC_METHODS: readonly string[] = [
  ...Object.values(ROUTER_METHODS),
  ...Object.values(DIRECTORY_METHODS),
  ...Object.values(HANDOVER_METHODS),
  ...Object.values(SWIM_METHODS),
  ...Object.values(DEFINITIONS_METHODS),
  ...Object.values(WORKER_METHODS),
]

/** A method's name and major version: `dir.claim/1` is `{ name: 'dir.claim', version: 1 }`. */
export interface MethodId {
  readonly name: string
  readonly version: number
}

const METHOD = /^([a-z][a-z0-9.-]{0,63})\/([1-9][0-9]{0,5})$/

/** Splits a method string; undefined when it is not `<name>/<version>`. */
export function parseMethod(method: string): MethodId | undefined {
  const match = METHOD.exec(method)
  if (!match) return undefined
  return { name: match[1] as string, version: Number(match[2]) }
}
