/**
 * The parent side of one function host: a child process that runs one function version.
 * A `nodejs` host runs `nodejs-runner` (OpenWhisk's `/init` + `/run` contract); a `process`
 * host runs any command that serves `POST /run` on `$PORT`. Both are reached over keep-alive
 * HTTP on 127.0.0.1.
 *
 * Cold start (`start`) = spawn + ready + `/init`, measured as `startMs`. A warm run is one
 * HTTP round trip. A run past its timeout, or aborted by its signal, kills the host: a
 * function cannot be interrupted any other way. Whatever the function does (throw, exit,
 * blow its heap, print megabytes), the caller gets a `ChorusError` whose `details.reason`
 * (host-errors.ts) says what happened, and the parent carries on.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { background } from '../background.js'
import { MAX_TIMER_MS } from '../deadline-timer.js'
import { ChorusError, asChorusError } from '../errors.js'
import { hostError, type HostFailureReason } from './host-errors.js'
import { HostClient, type PostOutcome } from './host-client.js'
import { validateHostSpec, type FunctionHostSpec } from './host-spec.js'
import { freePort, waitForPort } from './port.js'
import {
  OWN_PROCESS_GROUP,
  forgetProcessGroup,
  killProcessTree,
  trackProcessGroup,
} from './process-group.js'
import { runnerCommand } from './runner-command.js'

/** Largest output a run may return by default: 6 MiB, like OpenWhisk and Lambda. */
export const DEFAULT_MAX_OUTPUT_BYTES = 6 * 1024 * 1024
/** Time spawn + ready + init may take by default. */
export const DEFAULT_START_TIMEOUT_MS = 30_000
/** The smallest `--max-old-space-size` a host gets: Node itself does not boot with less. */
export const MIN_NODE_HEAP_MB = 16

/** How long a run waits for its host's exit after the connection broke, before killing it. */
const BROKEN_CONNECTION_GRACE_MS = 1_000
/** How long runs of a killed host wait for its exit before they are failed anyway. */
const KILL_GRACE_MS = 2_000
/** Bytes of the host's stderr kept to explain a crash. */
const STDERR_TAIL_CHARS = 4_096
/**
 * Runs a `process` host's command as its child, in its own process group, and passes its
 * exit on. When the peer's IPC channel closes (the peer died, even by SIGKILL) it kills the
 * command, removes the host's temp dir and takes the whole group down. Plain CommonJS for
 * `node -e`, so that it starts fast and needs no file. Arguments: temp dir, command, args.
 */
const PROCESS_SUPERVISOR = `
const { spawn } = require('node:child_process')
const { rmSync } = require('node:fs')
const [tmpDir, command, ...args] = process.argv.slice(1)
process.on('disconnect', () => {
  try { child.kill('SIGKILL') } catch {}
  try { rmSync(tmpDir, { recursive: true, force: true }) } catch {}
  try { process.kill(-process.pid, 'SIGKILL') } catch { process.exit(1) }
})
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal))
const child = spawn(command, args, { stdio: 'inherit' })
child.on('error', (err) => {
  process.stderr.write('cannot start ' + command + ': ' + err.message + '\\n')
  process.exit(127)
})
child.on('exit', (code, signal) => {
  process.removeAllListeners('disconnect')
  if (signal) process.kill(process.pid, signal)
  process.exit(code ?? 1)
})
`
/** Environment variables a host inherits from the peer; everything else it gets from its spec. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'SYSTEMROOT'] as const

export interface FunctionHostOptions {
  /** Largest output a run may return, in bytes (more fails as `output-too-large`). Default 6 MiB. */
  readonly maxOutputBytes?: number
  /** Time spawn + ready + init may take. Default 30 000 ms. */
  readonly startTimeoutMs?: number
  /** Aborts the start: the child is killed and `start` rejects. */
  readonly signal?: AbortSignal
  /** Where each host's temp dir is made (and removed when it exits). Default `os.tmpdir()`. */
  readonly tmpDir?: string
  /** The host's stdout and stderr as they come. Default dropped; stderr's tail explains crashes. */
  readonly onOutput?: (stream: 'stdout' | 'stderr', text: string) => void
}

export interface RunOptions {
  /** Passed to the function as `context.invocationId` (OpenWhisk's `activation_id`). */
  readonly invocationId: string
  /** Time the run may take; past it the host is killed and the run fails with `timeout`. */
  readonly timeoutMs: number
  /** Aborting it kills the host and fails the run (preemption, cancel). */
  readonly signal?: AbortSignal
}

/** Why a host is gone. */
export type HostExitCause =
  'stopped' | 'timeout' | 'aborted' | 'crashed' | 'out-of-memory' | 'start-failed'

export interface HostExit {
  readonly cause: HostExitCause
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** What happened, in a sentence. */
  readonly message: string
}

type State = 'starting' | 'ready' | 'dying' | 'dead'

interface Run {
  readonly invocationId: string
  readonly timeoutMs: number
  readonly signal: AbortSignal | undefined
  finish(error: ChorusError | undefined, output?: unknown): void
}

/** Why we killed the host, and which run (if any) it was for. */
interface Kill {
  readonly cause: HostExitCause
  readonly message: string
  readonly culprit?: Run
}

export class FunctionHost {
  readonly spec: FunctionHostSpec
  /** The host process' id (and, on POSIX, its process group's): for `process`, the supervisor's. */
  readonly pid: number | undefined
  /** Resolves (never rejects) once the host process is gone and its temp dir removed. */
  readonly exited: Promise<HostExit>

  readonly #child: ChildProcess
  readonly #tmp: string
  readonly #options: FunctionHostOptions
  readonly #maxOutputBytes: number
  readonly #runs = new Set<Run>()
  #client: HostClient | undefined
  #state: State = 'starting'
  #kill: Kill | undefined
  #exit: HostExit | undefined
  #stderrTail = ''
  #startMs = 0
  #killGrace: NodeJS.Timeout | undefined
  #resolveExited!: (exit: HostExit) => void

  /**
   * Starts a host and loads its function: resolves once it can run, rejects (with the child
   * gone and its temp dir removed) when it cannot — `start-failed`, `init-failed`, `aborted`.
   */
  static async start(
    spec: FunctionHostSpec,
    options: FunctionHostOptions = {},
  ): Promise<FunctionHost> {
    validateHostSpec(spec)
    if (spec.codeDir !== undefined && !(await isDirectory(spec.codeDir))) {
      throw hostError('start-failed', `codeDir ${spec.codeDir} is not a directory`)
    }
    const began = performance.now()
    const deadline = began + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS)
    const tmp = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'chorus-host-'))
    let port: number | undefined
    let child: ChildProcess
    try {
      if (spec.runtime === 'process') port = await freePort()
      child = spawnHost(spec, tmp, port)
    } catch (err) {
      await rm(tmp, { recursive: true, force: true })
      throw hostError('start-failed', `cannot start the function host: ${messageOf(err)}`)
    }
    const host = new FunctionHost(spec, child, tmp, options)
    try {
      await host.#becomeReady(port, deadline, options.signal)
      // It may have exited just after it answered /init.
      if (host.#state !== 'starting') throw hostError('start-failed', host.#goneMessage())
      host.#startMs = performance.now() - began
      host.#state = 'ready'
      return host
    } catch (err) {
      host.#killWith({ cause: 'start-failed', message: messageOf(err) })
      await host.exited
      throw err
    }
  }

  private constructor(
    spec: FunctionHostSpec,
    child: ChildProcess,
    tmp: string,
    options: FunctionHostOptions,
  ) {
    this.spec = spec
    this.pid = child.pid
    this.#child = child
    this.#tmp = tmp
    this.#options = options
    this.#maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve))
    trackProcessGroup(child, tmp)
    child.once('exit', (code, signal) => this.#onExit(code, signal))
    child.on('error', (err) => {
      // Only a spawn failure ends the host; a failed kill or IPC send is noise.
      if (child.pid === undefined) this.#onExit(null, null, err)
    })
    const forward = (stream: 'stdout' | 'stderr', text: string): void => {
      try {
        options.onOutput?.(stream, text)
      } catch {
        // a failing listener must not take the peer down
      }
    }
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (text: string) => forward('stdout', text))
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (text: string) => {
      this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL_CHARS)
      forward('stderr', text)
    })
  }

  /** Ready to run: started, loaded, and neither killed nor exited. */
  get alive(): boolean {
    return this.#state === 'ready'
  }

  /** Milliseconds the cold start took: spawn + ready + init. */
  get startMs(): number {
    return this.#startMs
  }

  /** The port the host serves on 127.0.0.1 (for a direct keep-alive client, as in benchmarks). */
  get port(): number | undefined {
    return this.#client?.port
  }

  /** Runs in flight. */
  get inFlight(): number {
    return this.#runs.size
  }

  /**
   * Runs the function on `input` and resolves with its output. Rejects with a ChorusError
   * whose `details.reason` is one of: `function-error` (the function threw; the host stays
   * warm), `output-too-large`, `bad-output`, `at-capacity` (already `concurrency` runs),
   * `timeout` and `aborted` (the host was killed), `host-lost` (killed for another run),
   * `host-crashed`, `out-of-memory`, `host-stopped`.
   */
  run(input: unknown, options: RunOptions): Promise<unknown> {
    const { invocationId, timeoutMs, signal } = options
    if (this.#state !== 'ready') return Promise.reject(this.#goneError(invocationId))
    if (this.#runs.size >= this.spec.concurrency) {
      return Promise.reject(
        hostError(
          'at-capacity',
          `function host ${this.pid} already runs ${this.#runs.size} invocations, its concurrency`,
        ),
      )
    }
    if (!(timeoutMs > 0)) {
      return Promise.reject(new ChorusError('bad-request', 'timeoutMs must be a positive number'))
    }
    if (signal?.aborted) {
      return Promise.reject(
        abortError(signal, `invocation ${invocationId} was aborted before it ran`),
      )
    }
    let body: string
    try {
      body = JSON.stringify({
        value: input,
        activation_id: invocationId,
        deadline: Date.now() + timeoutMs,
      })
    } catch (err) {
      return Promise.reject(new ChorusError('bad-request', `input is not JSON: ${messageOf(err)}`))
    }
    const client = this.#client
    if (client === undefined) return Promise.reject(this.#goneError(invocationId))

    return new Promise<unknown>((resolve, reject) => {
      const pending = client.post('/run', body, this.#maxOutputBytes)
      const timer = setTimeout(
        () =>
          this.#killWith({
            cause: 'timeout',
            message: `invocation ${invocationId} timed out after ${timeoutMs} ms`,
            culprit: run,
          }),
        Math.min(timeoutMs, MAX_TIMER_MS),
      )
      const onAbort = (): void =>
        this.#killWith({
          cause: 'aborted',
          message: `invocation ${invocationId} was aborted`,
          culprit: run,
        })
      const run: Run = {
        invocationId,
        timeoutMs,
        signal,
        finish: (error, output) => {
          if (!this.#runs.delete(run)) return
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          if (error === undefined) {
            resolve(output)
          } else {
            pending.cancel()
            reject(error)
          }
        },
      }
      this.#runs.add(run)
      signal?.addEventListener('abort', onAbort, { once: true })
      background(
        pending.outcome.then((outcome) => this.#answered(run, outcome)),
        (err) => run.finish(asChorusError(err)),
      )
    })
  }

  /** Kills the host's process tree, fails its runs (`host-stopped`), removes its temp dir. */
  async stop(): Promise<void> {
    this.#killWith({ cause: 'stopped', message: 'function host was stopped' })
    await this.exited
  }

  async #becomeReady(
    port: number | undefined,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { spec } = this
    if (spec.runtime === 'process') {
      const polling = new AbortController()
      try {
        const ready = this.#race(
          waitForPort(port ?? 0, { deadline, signal: polling.signal }),
          deadline,
          signal,
        )
        if ((await ready) !== 'ready') throw this.#notReadyError()
      } finally {
        polling.abort()
      }
      this.#client = new HostClient(port ?? 0, spec.concurrency)
      return
    }
    const hostPort = await this.#race(this.#readyMessage(), deadline, signal)
    // /init's connection, kept alive, then serves the first run.
    this.#client = new HostClient(hostPort, spec.concurrency)
    const value =
      spec.code !== undefined
        ? { code: spec.code, main: spec.main }
        : { codeDir: spec.codeDir, entry: spec.entry, main: spec.main }
    const outcome = await this.#race(
      this.#client.post('/init', JSON.stringify({ value }), this.#maxOutputBytes).outcome,
      deadline,
      signal,
    )
    if (outcome.type === 'answered' && outcome.status === 200) return
    throw hostError(
      'init-failed',
      outcome.type === 'answered'
        ? errorText(outcome.body, `/init answered HTTP ${outcome.status}`)
        : `function host did not answer /init: ${describeOutcome(outcome)}`,
    )
  }

  /** The port the runner reports over IPC once it listens. */
  #readyMessage(): Promise<number> {
    return new Promise((resolve) => {
      const onMessage = (message: unknown): void => {
        const m = message as { type?: unknown; port?: unknown } | null
        if (m?.type === 'ready' && typeof m.port === 'number') {
          this.#child.off('message', onMessage)
          resolve(m.port)
        }
      }
      this.#child.on('message', onMessage)
    })
  }

  /** `work`, unless the start deadline passes, the start is aborted or the host exits first. */
  #race<T>(work: Promise<T>, deadline: number, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const settle = (action: () => void): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        action()
      }
      const onAbort = (): void =>
        settle(() => reject(abortError(signal, 'the start of the function host was aborted')))
      const timer = setTimeout(
        () => settle(() => reject(this.#notReadyError())),
        Math.max(0, deadline - performance.now()),
      )
      signal?.addEventListener('abort', onAbort, { once: true })
      if (signal?.aborted) onAbort()
      background(
        this.exited.then((exit) => settle(() => reject(hostError('start-failed', exit.message)))),
        (err) => settle(() => reject(err instanceof Error ? err : new Error(String(err)))),
      )
      background(
        work.then((value) => settle(() => resolve(value))),
        (err) => settle(() => reject(err instanceof Error ? err : new Error(String(err)))),
      )
    })
  }

  #notReadyError(): ChorusError {
    const ms = this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS
    const what = this.spec.runtime === 'process' ? 'did not listen on $PORT' : 'was not ready'
    return hostError('start-failed', `function host ${what} within ${ms} ms`)
  }

  #answered(run: Run, outcome: PostOutcome): void {
    switch (outcome.type) {
      case 'answered': {
        const { status, body } = outcome
        if (status >= 200 && status < 300) {
          let output: unknown
          try {
            output = body.length === 0 ? null : JSON.parse(body.toString('utf8'))
          } catch (err) {
            run.finish(
              hostError(
                'bad-output',
                `invocation ${run.invocationId}: the function host answered something other than JSON (${messageOf(err)})`,
              ),
            )
            return
          }
          run.finish(undefined, output)
          return
        }
        run.finish(hostError('function-error', errorText(body, `function answered HTTP ${status}`)))
        return
      }
      case 'too-large':
        run.finish(
          hostError(
            'output-too-large',
            `invocation ${run.invocationId}: the output ` +
              (outcome.bytes === undefined ? 'is' : `(${outcome.bytes} bytes) is`) +
              ` over the limit of ${this.#maxOutputBytes} bytes`,
            { limitBytes: this.#maxOutputBytes },
          ),
        )
        return
      case 'failed':
        // Most likely the host is exiting and its exit has not been seen yet: wait for it, so
        // the run fails with why the host died. A host that lives on has broken the contract.
        if (this.#state === 'ready') {
          const message = outcome.error.message
          setTimeout(() => {
            if (!this.#runs.has(run)) return
            this.#killWith({
              cause: 'crashed',
              message: `function host dropped the connection of invocation ${run.invocationId} (${message}) and was killed`,
            })
          }, BROKEN_CONNECTION_GRACE_MS).unref()
        }
        return
      case 'cancelled':
        return
    }
  }

  /** Kills the process tree; runs fail once it has exited (or after a grace period). */
  #killWith(kill: Kill): void {
    if (this.#state === 'dying' || this.#state === 'dead') return
    this.#state = 'dying'
    this.#kill = kill
    killProcessTree(this.#child, 'SIGKILL')
    this.#killGrace = setTimeout(
      () => this.#failRuns(this.#describeExit(null, null)),
      KILL_GRACE_MS,
    )
    this.#killGrace.unref()
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void {
    if (this.#state === 'dead') return
    const exit = this.#describeExit(code, signal, spawnError)
    this.#state = 'dead'
    this.#exit = exit
    clearTimeout(this.#killGrace)
    // The host is gone; whatever it started in its group goes too.
    killProcessTree(this.#child, 'SIGKILL')
    forgetProcessGroup(this.#child)
    this.#client?.close()
    if (this.#child.connected) this.#child.disconnect()
    this.#failRuns(exit)
    // The temp dir is best effort: a host that is gone has exited, whether or not it is removed.
    background(
      rm(this.#tmp, { recursive: true, force: true }).finally(() => this.#resolveExited(exit)),
      () => undefined,
    )
  }

  #describeExit(code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): HostExit {
    const kill = this.#kill
    if (kill !== undefined) return { cause: kill.cause, code, signal, message: kill.message }
    const how = code !== null ? `code ${code}` : `signal ${signal}`
    if (spawnError !== undefined) {
      const command = this.spec.command?.[0] ?? process.execPath
      const message = `cannot start ${command}: ${spawnError.message}`
      return { cause: 'start-failed', code, signal, message }
    }
    if (/heap out of memory|javascript OOM|Reached heap limit/i.test(this.#stderrTail)) {
      const message = `function host ran out of memory (over its ${this.spec.memoryMb} MB heap) and exited with ${how}`
      return { cause: 'out-of-memory', code, signal, message }
    }
    const summary = summarizeStderr(this.#stderrTail)
    const detail = summary === '' ? '' : `: ${summary}`
    if (this.#state === 'starting') {
      const message = `function host exited with ${how} before it was ready${detail}`
      return { cause: 'start-failed', code, signal, message }
    }
    const message = `function host exited unexpectedly with ${how}${detail}`
    return { cause: 'crashed', code, signal, message }
  }

  #failRuns(exit: HostExit): void {
    for (const run of [...this.#runs]) run.finish(this.#runError(run, exit))
  }

  #runError(run: Run, exit: HostExit): ChorusError {
    const culprit = this.#kill?.culprit
    const id = run.invocationId
    const host = `function host ${this.pid}`
    if (culprit === run) {
      return exit.cause === 'timeout'
        ? hostError(
            'timeout',
            `invocation ${id} timed out after ${run.timeoutMs} ms; ${host} was killed`,
            { timeoutMs: run.timeoutMs },
          )
        : abortError(run.signal, `invocation ${id} was aborted; ${host} was killed`)
    }
    if (culprit !== undefined) {
      const why = exit.cause === 'timeout' ? 'timed out' : 'was aborted'
      return hostError(
        'host-lost',
        `invocation ${id} was lost: ${host} was killed because invocation ${culprit.invocationId} on it ${why}`,
      )
    }
    const reasons: { readonly [cause in HostExitCause]: HostFailureReason } = {
      stopped: 'host-stopped',
      timeout: 'host-lost',
      aborted: 'host-lost',
      crashed: 'host-crashed',
      'out-of-memory': 'out-of-memory',
      'start-failed': 'host-crashed',
    }
    return hostError(reasons[exit.cause], `invocation ${id} failed: ${exit.message}`, {
      exitCode: exit.code,
      exitSignal: exit.signal,
    })
  }

  #goneError(invocationId: string): ChorusError {
    return hostError('host-lost', `invocation ${invocationId} cannot run: ${this.#goneMessage()}`)
  }

  #goneMessage(): string {
    return this.#exit?.message ?? this.#kill?.message ?? 'function host is not ready'
  }
}

function spawnHost(spec: FunctionHostSpec, tmp: string, port: number | undefined): ChildProcess {
  const env: Record<string, string> = {}
  for (const name of INHERITED_ENV) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  env['TMPDIR'] = tmp
  if (process.platform === 'win32') env['TMP'] = env['TEMP'] = tmp
  Object.assign(env, spec.env)
  const cwd = spec.codeDir ?? tmp
  if (spec.runtime === 'process') {
    env['PORT'] = String(port)
    // Through the supervisor, which leads the group and takes it down with it when this
    // process dies, even by SIGKILL: an arbitrary executable does not watch its parent.
    const command = spec.command ?? []
    return spawn(process.execPath, ['-e', PROCESS_SUPERVISOR, '--', tmp, ...command], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: OWN_PROCESS_GROUP,
    })
  }
  env['CHORUS_HOST_TMPDIR'] = tmp
  const runner = runnerCommand()
  const heapMb = Math.max(MIN_NODE_HEAP_MB, spec.memoryMb)
  return spawn(
    process.execPath,
    [...runner.execArgv, `--max-old-space-size=${heapMb}`, runner.script],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: OWN_PROCESS_GROUP },
  )
}

/** The error for an aborted signal: its reason when that is a ChorusError, else `aborted`. */
function abortError(signal: AbortSignal | undefined, message: string): ChorusError {
  const reason: unknown = signal?.reason
  if (reason instanceof ChorusError) return reason
  const said =
    reason instanceof Error && reason.name !== 'AbortError'
      ? ` (${reason.message})`
      : typeof reason === 'string'
        ? ` (${reason})`
        : ''
  return hostError('aborted', `${message}${said}`)
}

/** The `error` of a JSON error body, else the body as text, else `fallback`. */
function errorText(body: Buffer, fallback: string): string {
  const text = body.toString('utf8').trim()
  try {
    const error = (JSON.parse(text) as { error?: unknown } | null)?.error
    if (typeof error === 'string' && error !== '') return error
  } catch {
    // not JSON
  }
  return text === '' ? fallback : `${fallback}: ${truncate(text, 500)}`
}

/** The line of a crash report that says what happened (`Error: boom`), or its last lines. */
function summarizeStderr(tail: string): string {
  const lines = tail
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^Node\.js v\d/.test(line))
  const error = lines.findLast((line) => /^(\w*Error|\[\w*Error|Uncaught)\b/.test(line))
  return truncate(error ?? lines.slice(-3).join(' | '), 500)
}

function describeOutcome(outcome: PostOutcome): string {
  if (outcome.type === 'failed') return outcome.error.message
  if (outcome.type === 'too-large') return 'its answer is too large'
  return outcome.type
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
