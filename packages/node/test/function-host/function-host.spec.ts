import { readdirSync } from 'node:fs'
import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { ChorusError } from '../../src/errors.js'
import {
  FunctionHost,
  hostFailureReason,
  type FunctionHost as Host,
} from '../../src/function-host/index.js'
import {
  SLOW,
  nodejs,
  pidAlive,
  processGroup,
  rejection,
  startHost,
  tempDir,
  waitFor,
} from './helpers.js'

/** A function with a few behaviours, picked by its input. */
const TOOLBOX = `
export default async (input, context) => {
  switch (input?.do) {
    case 'throw': throw new TypeError('bad input: ' + input.why)
    case 'exit': setTimeout(() => process.exit(input.code), 5); return new Promise(() => {})
    case 'uncaught': setTimeout(() => { throw new Error('boom from a timer') }, 5); return new Promise(() => {})
    case 'sleep': await new Promise((r) => setTimeout(r, input.ms)); return { slept: input.ms }
    case 'spin': for (;;) {}
    case 'big': return 'x'.repeat(input.bytes)
    case 'hog': { const keep = []; for (;;) keep.push(new Array(1e6).fill(keep.length)) }
    case 'context': return { invocationId: context.invocationId, deadline: context.deadline, left: context.remainingMs() }
    default: return { echo: input, pid: process.pid }
  }
}
`

function run(host: Host, input: unknown, timeoutMs = 10_000, signal?: AbortSignal) {
  return host.run(input, { invocationId: `inv-${Math.random()}`, timeoutMs, signal })
}

describe('FunctionHost, runtime nodejs', SLOW, () => {
  it('cold-starts once, then runs warm on the same process, much faster', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    expect(host.alive).toBe(true)
    expect(host.startMs).toBeGreaterThan(0)
    const first = (await run(host, { n: 1 })) as { echo: unknown; pid: number }
    expect(first).toEqual({ echo: { n: 1 }, pid: host.pid })

    const began = performance.now()
    const second = (await run(host, { n: 2 })) as { pid: number }
    const warmMs = performance.now() - began
    expect(second).toEqual({ echo: { n: 2 }, pid: host.pid })
    expect(warmMs).toBeLessThan(host.startMs / 2)
  })

  it('passes the invocation id and the deadline in the context', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    const before = Date.now()
    const out = (await host.run({ do: 'context' }, { invocationId: 'i-42', timeoutMs: 5_000 })) as {
      invocationId: string
      deadline: number
      left: number
    }
    expect(out.invocationId).toBe('i-42')
    expect(out.deadline).toBeGreaterThanOrEqual(before + 5_000)
    expect(out.left).toBeGreaterThan(0)
    expect(out.left).toBeLessThanOrEqual(5_000)
  })

  it('loads a named export with main, and answers null for undefined', async () => {
    const host = await startHost(
      nodejs('export const handler = async () => undefined', { main: 'handler' }),
    )
    expect(await run(host, {})).toBeNull()
  })

  it("hands the function's stdout and stderr to onOutput", async () => {
    const seen: string[] = []
    const host = await startHost(
      nodejs('export default async (x) => { console.log("out", x); console.error("err", x) }'),
      { onOutput: (stream, text) => seen.push(`${stream}: ${text}`) },
    )
    await run(host, 7)
    await waitFor('both lines', () => seen.join('').includes('stderr: err 7'))
    expect(seen.join('')).toContain('stdout: out 7')
  })

  it('rejects with the message of a function that throws, and stays warm', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    const err = await rejection(run(host, { do: 'throw', why: 'no name' }))
    expect(err).toBeInstanceOf(ChorusError)
    expect(err.message).toBe('bad input: no name')
    expect(hostFailureReason(err)).toBe('function-error')
    expect(host.alive).toBe(true)
    expect(await run(host, 'again')).toEqual({ echo: 'again', pid: host.pid })
  })

  it('fails the run, not the parent, when the host exits mid-run', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    const err = await rejection(run(host, { do: 'exit', code: 3 }))
    expect(hostFailureReason(err)).toBe('host-crashed')
    expect(err.message).toMatch(/exited unexpectedly with code 3/)
    expect(host.alive).toBe(false)
    const exit = await host.exited
    expect(exit).toMatchObject({ cause: 'crashed', code: 3 })
    expect(pidAlive(host.pid)).toBe(false)
    const after = await rejection(run(host, {}))
    expect(hostFailureReason(after)).toBe('host-lost')
  })

  it('says what an uncaught error in the function was when it crashes the host', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    const err = await rejection(run(host, { do: 'uncaught' }))
    expect(hostFailureReason(err)).toBe('host-crashed')
    expect(err.message).toMatch(/code 1: Error: boom from a timer/)
    expect((await host.exited).cause).toBe('crashed')
  })

  it('kills the host when a run times out, and fails the other runs on it as lost', async () => {
    const host = await startHost(nodejs(TOOLBOX, { concurrency: 2 }))
    const pid = host.pid
    const other = rejection(run(host, { do: 'sleep', ms: 30_000 }, 30_000))
    const err = await rejection(
      host.run({ do: 'sleep', ms: 30_000 }, { invocationId: 'slow-1', timeoutMs: 300 }),
    )
    expect(err).toBeInstanceOf(ChorusError)
    expect((err as ChorusError).code).toBe('timeout')
    expect(err.message).toBe(
      `invocation slow-1 timed out after 300 ms; function host ${pid} was killed`,
    )
    expect(host.alive).toBe(false)
    expect(pidAlive(pid)).toBe(false)
    const lost = await other
    expect(hostFailureReason(lost)).toBe('host-lost')
    expect(lost.message).toMatch(/killed because invocation slow-1 on it timed out/)
    expect((await host.exited).cause).toBe('timeout')
  })

  it('kills a host whose function blocks its event loop', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    const err = await rejection(run(host, { do: 'spin' }, 300))
    expect(hostFailureReason(err)).toBe('timeout')
    expect(pidAlive(host.pid)).toBe(false)
  })

  it('refuses an output over maxOutputBytes with a clear error, and stays warm', async () => {
    const host = await startHost(nodejs(TOOLBOX), { maxOutputBytes: 1_000 })
    const err = await rejection(run(host, { do: 'big', bytes: 5_000 }))
    expect(hostFailureReason(err)).toBe('output-too-large')
    expect(err.message).toMatch(/the output \(5002 bytes\) is over the limit of 1000 bytes/)
    expect(host.alive).toBe(true)
    expect(await run(host, { do: 'big', bytes: 10 })).toBe('x'.repeat(10))
  })

  it('aborts a run through its signal: the host is killed', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    const abort = new AbortController()
    const running = host.run(
      { do: 'sleep', ms: 30_000 },
      {
        invocationId: 'preempted',
        timeoutMs: 30_000,
        signal: abort.signal,
      },
    )
    await waitFor('the run to be in flight', () => host.inFlight === 1)
    abort.abort()
    const err = await rejection(running)
    expect(hostFailureReason(err)).toBe('aborted')
    expect(err.message).toMatch(/invocation preempted was aborted; function host \d+ was killed/)
    expect(pidAlive(host.pid)).toBe(false)
    expect((await host.exited).cause).toBe('aborted')
  })

  it('rejects with the abort reason when it is a ChorusError', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    const abort = new AbortController()
    const running = run(host, { do: 'sleep', ms: 30_000 }, 30_000, abort.signal)
    const reason = new ChorusError('shutting-down', 'the peer is leaving')
    abort.abort(reason)
    expect(await rejection(running)).toBe(reason)
  })

  it('runs at most concurrency invocations at once and refuses more', async () => {
    const host = await startHost(nodejs(TOOLBOX, { concurrency: 2 }))
    const a = run(host, { do: 'sleep', ms: 200 })
    const b = run(host, { do: 'sleep', ms: 200 })
    const err = await rejection(run(host, {}))
    expect((err as ChorusError).code).toBe('overloaded')
    expect(hostFailureReason(err)).toBe('at-capacity')
    expect(await Promise.all([a, b])).toEqual([{ slept: 200 }, { slept: 200 }])
    expect(await run(host, 'free again')).toMatchObject({ echo: 'free again' })
  })

  it('dies of its heap limit (memoryMb) rather than taking the machine', async () => {
    const host = await startHost(nodejs(TOOLBOX, { memoryMb: 32 }))
    const err = await rejection(run(host, { do: 'hog' }, 30_000))
    expect(hostFailureReason(err)).toBe('out-of-memory')
    expect(err.message).toMatch(/ran out of memory \(over its 32 MB heap\)/)
    expect((await host.exited).cause).toBe('out-of-memory')
  })

  it('stops: the whole process group is gone, runs in flight fail, the temp dir is removed', async () => {
    const base = tempDir()
    const host = await startHost(nodejs(TOOLBOX), { tmpDir: base })
    const pid = host.pid ?? 0
    expect(readdirSync(base)).toHaveLength(1)
    expect(processGroup(pid)).toContain(pid)
    const running = rejection(run(host, { do: 'sleep', ms: 30_000 }, 30_000))
    await host.stop()
    expect(hostFailureReason(await running)).toBe('host-stopped')
    expect(host.alive).toBe(false)
    expect(pidAlive(pid)).toBe(false)
    // Grandchildren (tsx's esbuild, when the host runs from sources) were killed with the
    // group; the kernel may take a moment to hand them to a reaper.
    await waitFor('the process group to be empty', () => processGroup(pid).length === 0)
    expect(readdirSync(base)).toEqual([])
    await host.stop() // idempotent
  })

  it('fails to start, leaving nothing behind, when the code does not load', async () => {
    const base = tempDir()
    const err = await rejection(
      FunctionHost.start(nodejs('export default async (x) => {{'), { tmpDir: base }),
    )
    expect(hostFailureReason(err)).toBe('init-failed')
    expect(err.message).toMatch(/^the function does not load: SyntaxError: /)
    expect(readdirSync(base)).toEqual([])

    const notAFunction = await rejection(FunctionHost.start(nodejs('export default 42')))
    expect(notAFunction.message).toMatch(/default export is not a function \(it is number\)/)
  })

  it('aborts a start through its signal', async () => {
    const abort = new AbortController()
    abort.abort()
    const err = await rejection(FunctionHost.start(nodejs(TOOLBOX), { signal: abort.signal }))
    expect(hostFailureReason(err)).toBe('aborted')
  })

  it('refuses a second /init, as OpenWhisk does', async () => {
    const host = await startHost(nodejs(TOOLBOX))
    const answer = await post(host.port ?? 0, '/init', { value: { code: TOOLBOX } })
    expect(answer.status).toBe(403)
    expect(await run(host, 1)).toMatchObject({ echo: 1 })
  })

  it('checks the spec', async () => {
    const err = await rejection(
      FunctionHost.start({ runtime: 'nodejs', memoryMb: 64, concurrency: 1 }),
    )
    expect((err as ChorusError).code).toBe('bad-request')
    expect(err.message).toBe(
      'function host spec: a nodejs host needs exactly one of code and codeDir',
    )
  })
})

function post(port: number, path: string, body: unknown): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST' }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }))
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}
