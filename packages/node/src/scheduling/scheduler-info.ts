/**
 * A hosted scheduler as the API lists it and its peer's load summary carries it: who it is,
 * and its load as the scheduler's own summary counts it.
 */
import type { SchedulerSummary } from '@chorus/scheduler-core'
import type { SchedulerInfo } from '../peer-api.js'

export interface SchedulerIdentity {
  readonly guid: string
  readonly owner: string
  readonly provider: string
  readonly epoch: number
  /** Being handed to another peer: it takes nothing new here. */
  readonly moving: boolean
}

export function schedulerInfo(
  id: SchedulerIdentity,
  peerId: string,
  summary: SchedulerSummary,
): SchedulerInfo {
  return {
    guid: id.guid,
    owner: id.owner,
    provider: id.provider,
    peerId,
    epoch: id.epoch,
    capacity: summary.capacity,
    pending: summary.pending.high + summary.pending.low,
    inflight: summary.inflight,
    arrivalRatePerSec: summary.arrivalRatePerSec,
    forwardedRatePerSec: summary.forwardedRatePerSec,
    state: id.moving ? 'migrating' : 'active',
    warmHosts: summary.warmHosts,
  }
}
