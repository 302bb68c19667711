import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FunctionHost, hostFailureReason } from '../../src/function-host/index.js'
import type { FunctionHostSpec } from '../../src/function-host/index.js'
import {
  SLOW,
  gone,
  pidAlive,
  processGroup,
  rejection,
  startHost,
  tempDir,
  waitFor,
} from './helpers.js'

/** A tiny "executable": a Node HTTP server on $PORT answering POST /run { value }. */
const SERVER = `
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'

const greeting = readFileSync('greeting.txt', 'utf8').trim() // relative to cwd: the code dir
let helper

createServer((req, res) => {
  let body = ''
  req.on('data', (chunk) => (body += chunk))
  req.on('end', () => {
    const { value } = JSON.parse(body)
    req.socket.requests = (req.socket.requests ?? 0) + 1
    const json = (status, out) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(out))
    }
    switch (value?.do) {
      case 'fail': return json(500, { error: 'it failed: ' + value.why })
      case 'text': res.writeHead(200); return res.end('this is not JSON')
      case 'exit': return process.exit(value.code)
      // as a server that closed a kept-alive connection just as the request came
      case 'drop-reused': return req.socket.requests > 1 ? req.socket.destroy() : json(200, 'fresh')
      case 'sleep': return setTimeout(() => json(200, { slept: value.ms }), value.ms)
      case 'stream': {
        // chunked, endless: only the reader's limit ends it
        res.writeHead(200, { 'content-type': 'application/json' })
        const chunk = 'x'.repeat(64 * 1024)
        const write = () => { while (res.write(chunk)) {} }
        res.on('drain', write)
        return write()
      }
      case 'spawn':
        helper ??= spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
        return json(200, { helper: helper.pid })
      default:
        return json(200, { echo: value, pid: process.pid, greeting, env: process.env.GREETING, port: process.env.PORT })
    }
  })
}).listen(Number(process.env.PORT), '127.0.0.1')
`

function serverDir(): string {
  const dir = tempDir()
  writeFileSync(join(dir, 'server.mjs'), SERVER)
  writeFileSync(join(dir, 'greeting.txt'), 'hello from the code dir\n')
  return dir
}

function processSpec(extra: Partial<FunctionHostSpec> = {}): FunctionHostSpec {
  return {
    runtime: 'process',
    codeDir: serverDir(),
    command: [process.execPath, 'server.mjs'],
    memoryMb: 64,
    concurrency: 1,
    ...extra,
  }
}

let n = 0
function run(host: FunctionHost, input: unknown, timeoutMs = 10_000) {
  return host.run(input, { invocationId: `p-${++n}`, timeoutMs })
}

describe('FunctionHost, runtime process', SLOW, () => {
  it('runs a command on $PORT in its code dir with its env, warm on the same process', async () => {
    const host = await startHost(processSpec({ env: { GREETING: 'hi' } }))
    expect(host.startMs).toBeGreaterThan(0)
    const first = (await run(host, { n: 1 })) as { pid: number }
    expect(first).toEqual({
      echo: { n: 1 },
      pid: expect.any(Number) as number,
      greeting: 'hello from the code dir',
      env: 'hi',
      port: String(host.port),
    })
    // host.pid leads the group (the supervisor); the command runs in it.
    expect(processGroup(host.pid ?? -1)).toContain(first.pid)
    const began = performance.now()
    expect(await run(host, { n: 2 })).toMatchObject({ echo: { n: 2 }, pid: first.pid })
    expect(performance.now() - began).toBeLessThan(host.startMs)
  })

  it("rejects with the host's error message, and stays warm", async () => {
    const host = await startHost(processSpec())
    const err = await rejection(run(host, { do: 'fail', why: 'no disk' }))
    expect(hostFailureReason(err)).toBe('function-error')
    expect(err.message).toBe('it failed: no disk')
    const text = await rejection(run(host, { do: 'text' }))
    expect(hostFailureReason(text)).toBe('bad-output')
    expect(host.alive).toBe(true)
    expect(await run(host, 1)).toMatchObject({ echo: 1 })
  })

  it('sends again, on a new connection, a request whose kept-alive connection was closed', async () => {
    const host = await startHost(processSpec())
    await run(host, 'opens a connection')
    expect(await run(host, { do: 'drop-reused' })).toBe('fresh')
  })

  it('fails to start when codeDir is not a directory', async () => {
    const err = await rejection(FunctionHost.start(processSpec({ codeDir: '/nonexistent/dir' })))
    expect(err.message).toBe('codeDir /nonexistent/dir is not a directory')
  })

  it('stops reading a streamed output at the limit', async () => {
    const host = await startHost(processSpec(), { maxOutputBytes: 256 * 1024 })
    const err = await rejection(run(host, { do: 'stream' }))
    expect(hostFailureReason(err)).toBe('output-too-large')
    expect(err.message).toMatch(/the output is over the limit of 262144 bytes/)
    expect(await run(host, 'still warm')).toMatchObject({ echo: 'still warm' })
  })

  it('fails the run when the host exits mid-run', async () => {
    const host = await startHost(processSpec())
    const err = await rejection(run(host, { do: 'exit', code: 7 }))
    expect(hostFailureReason(err)).toBe('host-crashed')
    expect(err.message).toMatch(/exited unexpectedly with code 7/)
    expect(host.alive).toBe(false)
  })

  it('kills the host on timeout', async () => {
    const host = await startHost(processSpec())
    const err = await rejection(run(host, { do: 'sleep', ms: 30_000 }, 300))
    expect(hostFailureReason(err)).toBe('timeout')
    expect(pidAlive(host.pid)).toBe(false)
  })

  it('kills what the host started when it stops', async () => {
    const host = await startHost(processSpec())
    const { helper } = (await run(host, { do: 'spawn' })) as { helper: number }
    expect(pidAlive(helper)).toBe(true)
    await host.stop()
    expect(pidAlive(host.pid)).toBe(false)
    // the helper was killed with the group; it is a zombie until a reaper takes it
    await waitFor('the helper to be gone', () => gone(helper))
  })

  it('fails to start when the command does not exist', async () => {
    const err = await rejection(
      FunctionHost.start(processSpec({ command: ['/nonexistent/chorus-test-binary'] })),
    )
    expect(hostFailureReason(err)).toBe('start-failed')
    expect(err.message).toMatch(/cannot start \/nonexistent\/chorus-test-binary: .*ENOENT/)
  })

  it('fails to start, with its stderr, when the command exits before listening', async () => {
    const err = await rejection(
      FunctionHost.start(
        processSpec({
          command: [process.execPath, '-e', 'console.error("no config found"); process.exit(2)'],
        }),
      ),
    )
    expect(hostFailureReason(err)).toBe('start-failed')
    expect(err.message).toMatch(/exited with code 2 before it was ready: no config found/)
  })

  it('gives up on a command that never listens, and kills it', async () => {
    const base = tempDir()
    const err = await rejection(
      FunctionHost.start(
        processSpec({ command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] }),
        { startTimeoutMs: 500, tmpDir: base },
      ),
    )
    expect(hostFailureReason(err)).toBe('start-failed')
    expect(err.message).toBe('function host did not listen on $PORT within 500 ms')
    expect(readdirSync(base)).toEqual([])
  })
})
