/**
 * @packageDocumentation
 *
 * The Chorus peer daemon: libp2p host, directory (lookup-or-become), forwarding, scheduler
 * host, placement on every peer's worker (function hosts), providers `mesh` and `http`,
 * choreography runs, replicated definitions, the HTTP API and the `chorus` CLI. The HTTP
 * client for applications is `@chorus/node/client`.
 *
 * @example
 * ```ts
 * import { parsePeerConfig, startPeer } from '@chorus/node'
 *
 * const peer = await startPeer(parsePeerConfig(['--http', '127.0.0.1:0'], process.env))
 * await peer.api.invoke({ owner: 'acme', fn: 'echo', input: { hello: 'mesh' } })
 * // { id: '…', status: 'succeeded', output: { hello: 'mesh' }, peerId: '12D3KooW…' }
 * await fetch(`${peer.httpUrl}/v1/health`).then((r) => r.json())
 * // { ok: true, peerId: '12D3KooW…', version: '0.1.0' }
 * await peer.stop()
 * ```
 *
 * The HTTP API over any `PeerApi`, in process (no socket) or on a port:
 *
 * ```ts
 * const http = createHttpApi(peer.api)
 * const res = await http.request('GET', '/v1/mesh/peers')
 * // { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', … }, body: <Buffer> }
 * const server = await http.listen('127.0.0.1', 0) // { url: 'http://127.0.0.1:39215', close() }
 * ```
 */
import './polyfill.js'

export { startPeer } from './peer.js'
export { ChorusError, asChorusError } from './errors.js'
export type { ChorusErrorCode } from './errors.js'
export type {
  ChoreographyView,
  DeployChoreographyRequest,
  DeployFunctionRequest,
  DeployedChoreography,
  DeployedFunction,
  FunctionView,
  InvocationStatus,
  InvocationView,
  InvokeChoreographyRequest,
  InvokeRequest,
  MemberStateName,
  PeerApi,
  PeerEvent,
  PeerInfo,
  SchedulerInfo,
} from './peer-api.js'
export {
  PEER_CONFIG_DEFAULTS,
  PEER_CONFIG_OPTIONS,
  PLACEMENTS,
  parseDuration,
  parsePeerConfig,
} from './config.js'
export type { PeerConfig, PeerConfigOption, PlacementName } from './config.js'
export { HTTP_API_DEFAULTS, createHttpApi } from './http/http-api.js'
export type {
  HttpApi,
  HttpApiInit,
  HttpRequestInit,
  HttpResponse,
  HttpServer,
} from './http/http-api.js'
export { httpStatus } from './http/http-status.js'
export type { HttpErrorCode, HttpOnlyErrorCode } from './http/http-status.js'
export { DEFAULT_BUCKETS, METRICS_CONTENT_TYPE, MetricsRegistry } from './observability/metrics.js'
export type {
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  LabelValues,
  MetricOptions,
} from './observability/metrics.js'
export { MAX_NAME_LENGTH, functionNameProblem, ownerNameProblem } from './names.js'
