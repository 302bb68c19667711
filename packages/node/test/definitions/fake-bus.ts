/**
 * An in-memory network for replicators: gossip goes to every other subscribed node a
 * tick later, requests reach the handler of the node they are addressed to, and both
 * cross the "wire" as JSON. Nodes can be taken down, gossip dropped, and answers tampered
 * with on their way back.
 */
import { ChorusError, asChorusError } from '../../src/errors.js'
import type {
  DefinitionGossip,
  DefinitionRpc,
} from '../../src/definitions/definition-replicator.js'

type Handler = (body: unknown, from: string) => unknown
type Subscriber = (data: Uint8Array, from: string) => void

interface Node {
  readonly handlers: Map<string, Handler>
  readonly subscribers: Map<string, Set<Subscriber>>
}

export interface SentRequest {
  readonly from: string
  readonly to: string
  readonly method: string
  readonly body: unknown
}

export class FakeBus {
  readonly #nodes = new Map<string, Node>()
  /** Nodes that cannot be reached and reach nobody. */
  readonly down = new Set<string>()
  /** Every request sent, in order. */
  readonly requests: SentRequest[] = []
  /** Gossip is lost while this is set: only anti-entropy carries operations. */
  dropGossip = false
  /** Rewrites an answer from `to` on its way back to `from`. */
  tamper: ((answer: unknown, request: SentRequest) => unknown) | undefined

  node(id: string): { gossip: DefinitionGossip; rpc: DefinitionRpc } {
    const node: Node = { handlers: new Map(), subscribers: new Map() }
    this.#nodes.set(id, node)
    const gossip: DefinitionGossip = {
      publish: async (topic, data) => {
        await Promise.resolve()
        if (this.dropGossip || this.down.has(id)) return
        for (const [otherId, other] of this.#nodes) {
          if (otherId === id || this.down.has(otherId)) continue
          for (const subscriber of other.subscribers.get(topic) ?? []) {
            const copy = data.slice()
            setImmediate(() => subscriber(copy, id))
          }
        }
      },
      subscribe: (topic, handler) => {
        let set = node.subscribers.get(topic)
        if (!set) node.subscribers.set(topic, (set = new Set()))
        set.add(handler)
        return () => set.delete(handler)
      },
    }
    const rpc: DefinitionRpc = {
      handle: (method, handler) => {
        node.handlers.set(method, handler)
      },
      request: async (to, method, body) => {
        const request: SentRequest = { from: id, to, method, body }
        this.requests.push(request)
        await new Promise((resolve) => setImmediate(resolve))
        const target = this.#nodes.get(to)
        if (!target || this.down.has(to) || this.down.has(id)) {
          throw new ChorusError('peer-unreachable', `cannot reach ${to}`)
        }
        const handler = target.handlers.get(method)
        if (!handler) throw new ChorusError('protocol-error', `unknown method ${method}`)
        let answer: unknown
        try {
          answer = await handler(wire(body), id)
        } catch (err) {
          const { code, message } = asChorusError(err)
          throw new ChorusError(code, message)
        }
        return wire(this.tamper ? this.tamper(answer, request) : answer)
      },
    }
    return { gossip, rpc }
  }

  /** Ids of the nodes that are up. */
  live(): string[] {
    return [...this.#nodes.keys()].filter((id) => !this.down.has(id))
  }
}

function wire(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value))
}
