/** Libp2p gossipsub as the `DefinitionGossip` the replicator needs. */
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { DefinitionGossip } from './definition-replicator.js'

export function gossipsubBroadcast(pubsub: GossipSub): DefinitionGossip {
  return {
    async publish(topic, data) {
      await pubsub.publish(topic, data)
    },
    subscribe(topic, handler) {
      const listener = (evt: CustomEvent<Message>): void => {
        const message = evt.detail
        // Signed messages only: `from` is then the publisher, as checked by gossipsub.
        if (message.topic !== topic || message.type !== 'signed') return
        handler(message.data, message.from.toString())
      }
      pubsub.addEventListener('message', listener)
      pubsub.subscribe(topic)
      return () => {
        pubsub.removeEventListener('message', listener)
        pubsub.unsubscribe(topic)
      }
    },
  }
}
