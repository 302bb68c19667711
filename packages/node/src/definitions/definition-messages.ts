/**
 * The messages of the definitions protocols, as zod schemas: anti-entropy (`defs.sync/1`),
 * code transfer (`code.fetch/1`) and the `chorus/defs/1` gossip. Requests that do not fit
 * are refused `bad-request`; answers that do not fit fail the exchange with
 * `protocol-error`, and nothing of them is applied.
 *
 * A sync request's envelope is checked here; its owners, slices and stamps are checked,
 * against the peer's limits, by the definition log (`DefinitionLog.answerSync`), and each
 * operation that arrives by `DefinitionLog.apply`.
 */
import { z } from 'zod'
import { isDigest } from './code-store.js'
import type { SyncLimits } from './definition-log.js'
import { ownerProblem } from './definition-op.js'

/** Largest code chunk a peer serves: its base64 stays well under the 4 MiB frame limit. */
export const MAX_CHUNK_BYTES = 2 * 1024 * 1024

/** Operations one gossip message may carry. */
export const MAX_GOSSIP_OPS = 64

const digest = z.string().refine(isDigest, 'must be a sha256 digest (64 lowercase hex digits)')

/** `defs.sync/1` request: `{ v: 1, from?, owners?, slices? }` (a `SyncRequest`). */
export const syncRequestSchema = z.looseObject({ v: z.literal(1) })

/** `defs.sync/1` answer: `{ v: 1, ops, differ, more, next? }` (a `SyncAnswer`), bounded by `limits`. */
export function syncAnswerSchema(limits: SyncLimits) {
  return z.object({
    ops: z.array(z.unknown()).max(limits.maxOps),
    differ: z
      .array(z.string().refine((o) => ownerProblem(o) === undefined, 'must be an owner name'))
      .max(limits.maxDiffer),
    more: z.boolean(),
    next: z.string().max(300).optional(),
  })
}

/** `code.fetch/1` request: `length` bytes of a code blob from `offset`. */
export const codeFetchRequestSchema = z.object({
  digest,
  offset: z.int().nonnegative(),
  length: z.int().positive(),
})

/** `code.fetch/1` answer: a chunk, base64, of a blob of `size` bytes. */
export const codeChunkSchema = z.object({
  size: z.int().nonnegative(),
  offset: z.int().nonnegative(),
  data: z.string().max(Math.ceil(MAX_CHUNK_BYTES / 3) * 4),
})

/** A `chorus/defs/1` gossip message: operations (each checked as it is applied). */
export const definitionsGossipSchema = z.object({
  v: z.literal(1),
  ops: z.array(z.unknown()).max(MAX_GOSSIP_OPS),
})
