/**
 * The pure peer core: what a peer decides, without a clock, randomness or I/O of its own
 * (the purity lint holds every file here to that). The shells in `mesh/` and `scheduling/`
 * feed it and carry out what it decides; the simulator runs it on a virtual clock.
 * - `directory-table.ts`: who is responsible for each key, claim-if-absent, and the one point
 *   where ownership of an existing scheduler moves, a compare-and-swap on (guid, epoch).
 * - `directory-node.ts`: a peer in its role as directory (requests in, answer and effects out).
 * - `rendezvous.ts`: which member is a key's directory peer.
 * - `invocation-id.ts`: ids that name their scheduler, so they stay valid wherever it goes.
 * - `invocation-ledger.ts`: a scheduler's idempotency keys and results, which travel with it.
 * - `location-cache.ts`: where responsibles were last found, expiring and bounded.
 * - `pause-detector.ts`: notices that this peer was paused long enough to have been declared dead.
 * - `route.ts`: one invocation's route (serve here, forward, become, back off, give up).
 * - `environment.ts`: the clock, timers, ids and rng the shells take as components.
 * - `virtual-time.ts`: a virtual clock and timers for tests and the simulator.
 */
export * from './directory-node.js'
export * from './directory-table.js'
export * from './environment.js'
export * from './invocation-id.js'
export * from './invocation-ledger.js'
export * from './location-cache.js'
export * from './pause-detector.js'
export * from './rendezvous.js'
export * from './route.js'
export * from './virtual-time.js'
