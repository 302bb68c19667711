/**
 * Replicated definitions (owners' functions and choreographies) and content-addressed code.
 * See README.md beside this file for the model, the convergence rule and the protocols.
 */
export {
  CODE_FETCH_METHOD,
  DEFINITIONS_TOPIC,
  DEFINITION_REPLICATOR_DEFAULTS,
  DEFS_SYNC_METHOD,
  MAX_CHUNK_BYTES,
  definitionReplicator,
} from './definition-replicator.js'
export type {
  DefinitionChange,
  DefinitionGossip,
  DefinitionReplicator,
  DefinitionReplicatorComponents,
  DefinitionReplicatorInit,
  DefinitionRpc,
  DeployResult,
  FunctionDeployInput,
  SyncReport,
} from './definition-replicator.js'
export { gossipsubBroadcast } from './gossipsub-broadcast.js'
export { DEFINITION_LIMITS, DefinitionLog, SYNC_LIMITS } from './definition-log.js'
export type {
  ApplyOutcome,
  ChoreographyDefinition,
  DefinitionLimits,
  DefinitionSummary,
  FunctionDefinition,
  LocalChange,
  SyncAnswer,
  SyncLimits,
  SyncRequest,
} from './definition-log.js'
export { compareOps, revisionOf } from './definition-op.js'
export type { DefinitionKind, DefinitionOp, DefinitionRejectionReason } from './definition-op.js'
export {
  FUNCTION_BOUNDS,
  FUNCTION_DEFAULTS,
  FUNCTION_RUNTIMES,
  checkFunctionSpec,
  commandProblem,
  isFunctionRuntime,
  limitProblem,
  urlProblem,
} from './function-spec.js'
export type {
  FunctionLimit,
  FunctionProvider,
  FunctionRuntime,
  FunctionSpec,
  FunctionSpecInput,
} from './function-spec.js'
export { CodeStore, DEFAULT_MAX_CODE_BYTES, sha256Hex } from './code-store.js'
export { isDigest } from './digest.js'
export { DefinitionStore } from './definition-store.js'
export {
  CodeIntegrityError,
  CodeTooLargeError,
  CodeUnavailableError,
  DefinitionRejectedError,
} from './errors.js'
