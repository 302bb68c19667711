/**
 * The one way a component answers its RPC methods on the peer channels for as long as it
 * runs: `answerMethods` registers every handler and gives back what unregisters exactly
 * those, so a component's `start()` and `stop()` are one line each.
 */
import type { PeerChannels } from './peer-channels.js'

/** A method's handler: the request's body and the peer it came from → the answer. */
export type MethodHandler = (body: unknown, from: string) => unknown

/** Registers `handlers` on `channels`; the returned function unregisters them. */
export function answerMethods(
  channels: Pick<PeerChannels, 'handle' | 'unhandle'>,
  handlers: Readonly<Record<string, MethodHandler>>,
): () => void {
  for (const [method, handler] of Object.entries(handlers)) channels.handle(method, handler)
  return () => {
    for (const method of Object.keys(handlers)) channels.unhandle(method)
  }
}
