/**
 * @packageDocumentation
 *
 * The Chorus peer daemon: libp2p host, directory (lookup-or-become), forwarding,
 * scheduler host, worker host, definitions store, HTTP API, dashboard and CLI.
 *
 * Status: arrives with the peer-mesh issue. Until then this package only fixes its
 * place in the dependency graph.
 */
export type { SchedulerSummary } from '@chorus/gossip'
export type { SchedulerSnapshot } from '@chorus/migration'
