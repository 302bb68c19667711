/**
 * The mesh: who is in it (SWIM membership and load gossip, `mesh-membership.ts`, publishing
 * through `load-publisher.ts`), who is
 * responsible for each owner's scheduler (the directory over rendezvous hashing,
 * `directory-service.ts`), how an invocation reaches its responsible (`router.ts`), how a
 * peer joins (`bootstrap.ts`) and leaves gracefully (`graceful-leave.ts`), handing each
 * scheduler it holds to another peer (`scheduler-handover.ts`), and how a peer that was paused
 * confirms its schedulers are still its own before it serves again (`pause-fence.ts`).
 */
export { Bootstrap, type BootstrapComponents, type BootstrapInit } from './bootstrap.js'
export {
  DIRECTORY_MESSAGES,
  DirectoryService,
  type DirectoryMembers,
  type DirectoryServiceInit,
} from './directory-service.js'
export type { DirectoryEntry } from '../core/directory-table.js'
export {
  GracefulLeave,
  type GracefulLeaveComponents,
  type GracefulLeaveInit,
} from './graceful-leave.js'
export { HANDOVER_MESSAGES, SchedulerHandover } from './scheduler-handover.js'
export { MeshMembership, SWIM_MESSAGES, type MeshMembershipInit } from './mesh-membership.js'
export { PauseFence, type PauseFenceInit } from './pause-fence.js'
export { LoadPublisher, schedulerLoad, type LocalLoad, type WorkerLoad } from './load-publisher.js'
export {
  ROUTER_MESSAGES,
  Router,
  entryPeerOf,
  type ForwardedInvocation,
  type RouterComponents,
  type RouterInit,
} from './router.js'
