/**
 * @packageDocumentation
 *
 * Scheduler handoff (make-before-break, fenced by epochs) and capacity-shard moves:
 * pure state machines, their policies, and the libp2p protocol shell.
 *
 * Status: arrives with the migration issue. Until then this package only fixes its
 * place in the dependency graph (`node → migration → scheduler-core`).
 */
export type { SchedulerSnapshot } from '@chorus/scheduler-core'
