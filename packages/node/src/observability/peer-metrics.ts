/**
 * Every metric a peer exposes on `GET /metrics` (the HTTP layer adds its own), declared in
 * one place over the `MetricsRegistry` API. Counters and histograms are handed to the
 * components that count; gauges are read from `sources` when the registry is collected.
 */
import type { MemberStateName, SchedulerInfo } from '../peer-api.js'
import { LATENCY_BUCKETS, type Counter, type Histogram, type MetricsRegistry } from './metrics.js'

/** What the gauges read at collection time. */
export interface PeerMetricsSources {
  /** The schedulers this peer is responsible for. */
  schedulers(): readonly SchedulerInfo[]
  /** This peer's worker: its function hosts and the memory they hold. */
  worker(): { readonly hosts: readonly unknown[]; readonly usedMb: number }
  /** The state of every member this peer knows, itself included. */
  memberStates(): readonly MemberStateName[]
}

export interface PeerMetrics {
  /** Invocations answered by this peer as the entry point, by `status`. */
  readonly invocations: Counter
  /** Seconds from an invocation reaching this peer to its answer. */
  readonly latency: Histogram
  /** Invocations that started running on this peer, by `fn`. */
  readonly executions: Counter
  /** Invocations that started a new function host here, by `fn`. */
  readonly coldStarts: Counter
  /** Dispatches a worker refused as busy, by `worker`. */
  readonly refusals: Counter
  /** Invocations forwarded to their responsible. */
  readonly forwards: Counter
  /** A forward's round trip to the responsible (for a waiting invocation, its whole run). */
  readonly forwardLatency: Histogram
  /** Gossip payload bytes, by `direction` (in, out) and `topic`. */
  readonly gossipBytes: Counter
}

export function declarePeerMetrics(
  registry: MetricsRegistry,
  sources: PeerMetricsSources,
): PeerMetrics {
  const metrics: PeerMetrics = {
    gossipBytes: registry.counter('chorus_gossip_bytes_total', 'Gossip payload bytes', {
      labelNames: ['direction', 'topic'],
    }),
    invocations: registry.counter(
      'chorus_invocations_total',
      'Invocations answered by this peer as the entry point, by outcome',
      { labelNames: ['status'] },
    ),
    latency: registry.histogram(
      'chorus_invocation_duration_seconds',
      'Time from an invocation reaching this peer to its answer',
      { buckets: LATENCY_BUCKETS },
    ),
    forwardLatency: registry.histogram(
      'chorus_forward_duration_seconds',
      'Round trip of an invocation forwarded to its responsible peer, until it answered',
      { buckets: LATENCY_BUCKETS },
    ),
    executions: registry.counter(
      'chorus_executions_total',
      'Invocations that started running on this peer, by function',
      { labelNames: ['fn'] },
    ),
    coldStarts: registry.counter(
      'chorus_cold_starts_total',
      "Invocations that started a new function host on this peer's worker, by function",
      { labelNames: ['fn'] },
    ),
    refusals: registry.counter(
      'chorus_dispatches_refused_total',
      'Dispatches a worker refused as busy (the scheduler walked on), by worker peer',
      { labelNames: ['worker'] },
    ),
    forwards: registry.counter(
      'chorus_forwards_total',
      'Invocations this peer forwarded to the responsible peer',
    ),
  }
  const peersByState = registry.gauge(
    'chorus_peers',
    'Members of the mesh by state, as seen here',
    {
      labelNames: ['state'],
    },
  )
  const queueDepth = registry.gauge(
    'chorus_queue_depth',
    'Invocations queued in the schedulers this peer is responsible for',
  )
  const hostedSchedulers = registry.gauge(
    'chorus_schedulers',
    'Schedulers this peer is responsible for',
  )
  const functionHosts = registry.gauge(
    'chorus_function_hosts',
    "Function hosts on this peer's worker, starting ones included",
  )
  const workerMemoryUsed = registry.gauge(
    'chorus_worker_memory_used_mb',
    "Memory held by function hosts on this peer's worker, in MB (of --worker-memory)",
  )
  registry.onCollect(() => {
    const counts: Record<MemberStateName, number> = { alive: 0, suspect: 0, dead: 0, left: 0 }
    for (const state of sources.memberStates()) counts[state]++
    for (const [state, n] of Object.entries(counts)) peersByState.set(n, { state })
    const local = sources.schedulers()
    queueDepth.set(local.reduce((n, s) => n + s.pending, 0))
    hostedSchedulers.set(local.length)
    const worker = sources.worker()
    functionHosts.set(worker.hosts.length)
    workerMemoryUsed.set(worker.usedMb)
  })
  return metrics
}
