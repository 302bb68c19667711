// libp2p 3 calls Promise.withResolvers, which Node 20 lacks (every dial then fails
// with a misleading ECONNRESET). Import this module before anything from libp2p.
type Resolvers<T> = { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void }
const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
P.withResolvers ??= <T>(): Resolvers<T> => {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)))
  return { promise, resolve, reject }
}
export {}
