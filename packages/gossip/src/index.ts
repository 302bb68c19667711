/**
 * @packageDocumentation
 *
 * Load summaries, membership and failure detection for the Chorus mesh: a pure state
 * core (merge, expiry, peer selection, suspicion timers) and a libp2p shell.
 *
 * Status: arrives with the peer-mesh issue. Until then this package only fixes its
 * place in the dependency graph (`node → gossip → scheduler-core`).
 */
export type { SchedulerSummary } from '@chorus/scheduler-core'
