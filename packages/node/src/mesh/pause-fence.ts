/**
 * The shell around `core/pause-detector.ts`: a heartbeat that notices when this process was
 * not running (SIGSTOP, a frozen VM, a blocked event loop) for longer than the mesh waits
 * before declaring a silent peer dead. Then, before anything is served again, every scheduler
 * this peer hosts is confirmed with its directory (`DirectoryService.confirmHosted`): one that
 * another peer took over meanwhile merges into it instead of running what reached it during
 * the pause a second time. The router awaits `ready()` before it serves or forwards.
 */
import { PauseDetector, PAUSE_LIMIT_MS } from '../core/pause-detector.js'
import type { Clock, TimerHandle, Timers } from '../core/environment.js'
import { silentLogger, type Logger } from '../observability/logger.js'

export interface PauseFenceInit {
  readonly clock: Clock
  readonly timers: Pick<Timers, 'after'>
  /** Confirms every hosted scheduler with its directory (merging the ones that lost). */
  readonly confirm: () => Promise<void>
  /** A gap longer than this is a pause. Default `PAUSE_LIMIT_MS` (750 ms). */
  readonly limitMs?: number
  readonly log?: Logger
}

export class PauseFence {
  readonly #init: PauseFenceInit
  readonly #detector: PauseDetector
  readonly #heartbeatMs: number
  readonly #log: Logger
  #timer: TimerHandle | undefined
  #confirming: Promise<void> | undefined

  constructor(init: PauseFenceInit) {
    this.#init = init
    this.#detector = new PauseDetector(init.limitMs ?? PAUSE_LIMIT_MS)
    this.#heartbeatMs = Math.max(1, Math.floor(this.#detector.limitMs / 5))
    this.#log = (init.log ?? silentLogger()).child({ component: 'mesh:pause-fence' })
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#check()
    this.#beat()
  }

  stop(): void {
    this.#timer?.cancel()
    this.#timer = undefined
  }

  /**
   * Undefined when serving may go ahead now; otherwise settles once this peer's schedulers
   * were confirmed after a pause (it never rejects).
   */
  ready(): Promise<void> | undefined {
    this.#check()
    return this.#confirming
  }

  #beat(): void {
    this.#timer = this.#init.timers.after(this.#heartbeatMs, () => {
      this.#check()
      if (this.#timer !== undefined) this.#beat()
    })
  }

  #check(): void {
    const pausedMs = this.#detector.observe(this.#init.clock.now())
    if (pausedMs === undefined || this.#confirming !== undefined) return
    this.#log.info(
      { pausedMs: Math.round(pausedMs) },
      'this peer was paused: confirming its schedulers with their directories before serving',
    )
    this.#confirming = this.#init
      .confirm()
      .catch((err: unknown) => this.#log.error({ err }, 'bug: confirming after a pause threw'))
      .finally(() => {
        this.#confirming = undefined
      })
  }
}
