/**
 * A scheduler handed to another peer under its own GUID, with its queue and its ledger
 * (idempotency keys and results), when its peer leaves gracefully. Make-before-break in
 * the small: the source stops dispatching and sends the package (`scheduler.handover/1`);
 * the successor moves ownership to itself by compare-and-swap on (guid, epoch) at the
 * key's directory peer (`dir.commit/1`), takes the scheduler at epoch + 1, queues what
 * was queued, and answers; only then does the source stop taking work for it. What still
 * runs at the source finishes there, and each result follows to the successor's ledger
 * (`scheduler.result/1`). If anything fails before the commit, the source keeps the
 * scheduler and hands its queue on invocation by invocation instead (`route/1`), keys
 * included. A scheduler that loses a merge sends its ledger to the winner (`ledger.absorb/1`).
 */
import { z } from 'zod'
import { LEDGER_FORMAT, type LedgerResult } from '../core/invocation-ledger.js'
import { ChorusError } from '../errors.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import type { InvocationView } from '../peer-api.js'
import type { HandoverPackage, SchedulerHost, SubmitRequest } from '../scheduling/scheduler-host.js'
import type { PeerChannels } from '../transport/peer-channels.js'
import { HANDOVER_METHODS } from '../transport/protocols.js'
import { parseMessage } from '../transport/rpc-message.js'
import type { DirectoryService } from './directory-service.js'
import { answerMethods, type MethodHandler } from '../transport/answer-methods.js'

const id = z.string().min(1).max(600)
const key = z.string().min(1).max(300)
/** Entries of one ledger, at most, in a message (the frame limit bounds the bytes too). */
const MAX_ENTRIES = 100_000

const resultSchema = z.object({
  id,
  status: z.enum(['succeeded', 'failed']),
  output: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  peerId: z.string().optional(),
  trace: z.unknown().optional(),
  attempts: z.int().min(0).optional(),
  preemptions: z.int().min(0).optional(),
})

export const ledgerSnapshotSchema = z.object({
  format: z.literal(LEDGER_FORMAT),
  keys: z.array(z.tuple([z.string().min(1).max(300), id])).max(MAX_ENTRIES),
  results: z.array(resultSchema).max(MAX_ENTRIES),
})

const submitSchema = z.object({
  id,
  fn: z.string().min(1).max(300),
  input: z.unknown().optional(),
  priority: z.union([z.literal(0), z.literal(1)]),
  idempotencyKey: z.string().min(1).max(300).optional(),
})

/** The messages of the handover methods, requests and answers. */
export const HANDOVER_MESSAGES = {
  /** `scheduler.handover/1` request. */
  handover: z.object({
    key,
    owner: z.string().min(1).max(200),
    provider: z.string().min(1).max(100),
    guid: z.string().min(1).max(200),
    epoch: z.int().min(1),
    queued: z.array(submitSchema).max(MAX_ENTRIES),
    running: z.array(id).max(MAX_ENTRIES),
    ledger: ledgerSnapshotSchema,
    leaving: z.boolean().optional(),
  }),
  /** `scheduler.handover/1` answer: the epoch the successor holds it at. */
  handoverAnswer: z.object({ epoch: z.int().min(2) }),
  /** `scheduler.result/1` request (one-way). */
  result: z.object({ key, result: resultSchema }),
  /** `ledger.absorb/1` request (one-way). */
  absorb: z.object({ key, ledger: ledgerSnapshotSchema }),
} as const

export interface SchedulerHandoverComponents {
  readonly selfId: string
  readonly channels: Pick<PeerChannels, 'handle' | 'unhandle' | 'request' | 'send'>
  readonly directory: Pick<DirectoryService, 'commit'>
  readonly host: Pick<
    SchedulerHost,
    | 'beginHandover'
    | 'completeHandover'
    | 'abortHandover'
    | 'adopt'
    | 'recordHandedOver'
    | 'absorbLedger'
    | 'hasFunction'
    | 'ledgerOf'
  >
  /** Looks again after pulling definitions, when a queued function is not known here yet. */
  readonly catchUp: { retry<T>(look: () => T | Promise<T>, code: ChorusError['code']): Promise<T> }
  readonly log?: Logger
}

export interface SchedulerHandoverInit {
  /** How long the whole handover of one scheduler may take before the source gives up. */
  readonly timeoutMs?: number
}

export class SchedulerHandover {
  readonly #c: SchedulerHandoverComponents
  readonly #timeoutMs: number
  readonly #log: Logger
  #unanswer: (() => void) | undefined

  constructor(components: SchedulerHandoverComponents, init: SchedulerHandoverInit = {}) {
    this.#c = components
    this.#timeoutMs = init.timeoutMs ?? 10_000
    this.#log = (components.log ?? silentLogger()).child({ component: 'mesh:handover' })
  }

  readonly #handlers: Readonly<Record<string, MethodHandler>> = {
    [HANDOVER_METHODS.handover]: (body, from) =>
      this.#takeOver(
        parseMessage(
          HANDOVER_MESSAGES.handover,
          body,
          HANDOVER_METHODS.handover,
        ) as HandoverPackage,
        from,
      ),
    [HANDOVER_METHODS.result]: (body) => {
      const m = parseMessage(HANDOVER_MESSAGES.result, body, HANDOVER_METHODS.result)
      this.#c.host.recordHandedOver(m.key, m.result)
      return true
    },
    [HANDOVER_METHODS.absorb]: (body) => {
      const m = parseMessage(HANDOVER_MESSAGES.absorb, body, HANDOVER_METHODS.absorb)
      return this.#c.host.absorbLedger(m.key, m.ledger)
    },
  }

  start(): void {
    this.#unanswer ??= answerMethods(this.#c.channels, this.#handlers)
  }

  stop(): void {
    this.#unanswer?.()
    this.#unanswer = undefined
  }

  /**
   * Hands the scheduler for `key` to `successor`. True once the successor holds it; false
   * when it could not (the source keeps it, dispatching again), after logging why.
   */
  async handOver(
    key: string,
    successor: string,
    forward: (request: SubmitRequest) => Promise<InvocationView>,
  ): Promise<boolean> {
    const { host, channels } = this.#c
    const begun = host.beginHandover(key)
    if (begun === undefined) return false
    // Handovers happen as this peer leaves (migration will hand over without leaving).
    const pkg: HandoverPackage = { ...begun, leaving: true }
    try {
      const answer = parseMessage(
        HANDOVER_MESSAGES.handoverAnswer,
        await channels.request(successor, HANDOVER_METHODS.handover, pkg, this.#timeoutMs),
        `${HANDOVER_METHODS.handover} answer`,
      )
      host.completeHandover(key, pkg, successor, forward)
      this.#log.info(
        { key, guid: pkg.guid, to: successor, epoch: answer.epoch, queued: pkg.queued.length },
        'handed the scheduler over',
      )
      return true
    } catch (err) {
      host.abortHandover(key)
      this.#log.warn({ err, key, to: successor }, 'handing the scheduler over failed')
      return false
    }
  }

  /** The ledger of the scheduler for `key`, which lost a merge, to the winner's peer. Best effort. */
  sendLedger(to: string, key: string): void {
    const ledger = this.#c.host.ledgerOf(key)
    if (ledger === undefined) return
    if (to === this.#c.selfId) {
      this.#c.host.absorbLedger(key, ledger)
      return
    }
    this.#c.channels.send(to, HANDOVER_METHODS.absorb, { key, ledger })
  }

  /** A result of an invocation that ran here after its scheduler was handed to `to`. */
  sendResult(to: string, key: string, result: LedgerResult): void {
    this.#c.channels.send(to, HANDOVER_METHODS.result, { key, result })
  }

  async #takeOver(pkg: HandoverPackage, from: string): Promise<{ epoch: number }> {
    const { directory, host, selfId, catchUp } = this.#c
    // Make before break: every function it queued is known here before ownership moves.
    for (const fn of new Set(pkg.queued.map((q) => q.fn))) {
      await catchUp.retry(() => {
        if (!host.hasFunction(pkg.owner, pkg.provider, fn)) {
          throw new ChorusError('unknown-function', `no function ${fn} for ${pkg.owner} here yet`)
        }
      }, 'unknown-function')
    }
    // A leaving source may not be counted out here yet: commit where the others will look.
    const outcome = await directory.commit(
      { key: pkg.key, guid: pkg.guid, epoch: pkg.epoch, peerId: selfId },
      this.#timeoutMs,
      pkg.leaving === true ? from : undefined,
    )
    if (!outcome.committed) {
      throw new ChorusError(
        'stale-epoch',
        `${pkg.key} is not at ${pkg.guid}@${pkg.epoch} any more` +
          (outcome.entry ? ` (now ${outcome.entry.guid}@${outcome.entry.epoch})` : ''),
      )
    }
    host.adopt(pkg, outcome.entry.epoch, from)
    return { epoch: outcome.entry.epoch }
  }
}
