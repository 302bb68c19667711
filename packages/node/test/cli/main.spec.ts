/** The dispatcher (`main`): help, version, unknown commands; and `src/cli.ts` run as the program. */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { closedUrl, run } from './support.js'

describe('usage and help', () => {
  it('prints the overview on --help and exits 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const { code, stdout } = await run(argv)
      expect(code).toBe(0)
      expect(stdout).toContain('Usage: chorus <command> [flags]')
      for (const name of ['start', 'peers', 'schedulers', 'invoke', 'status', 'choreography']) {
        expect(stdout).toContain(`\n  ${name} `)
      }
      expect(stdout).toContain('CHORUS_PEER')
    }
  })

  it('prints the overview on stderr and exits 2 with no command', async () => {
    const { code, stdout, stderr } = await run([])
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
    expect(stderr).toContain('Usage: chorus <command> [flags]')
  })

  it('exits 2 on an unknown command, naming the known ones', async () => {
    expect(await run(['frobnicate'])).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'chorus: unknown command "frobnicate" (commands: start, peers, schedulers, invoke, deploy, ' +
        'status, choreography; see chorus --help)\n',
    })
    expect((await run(['toString'])).code).toBe(2)
  })

  it('prints each command help with its flags and examples', async () => {
    for (const name of ['peers', 'schedulers', 'invoke', 'status']) {
      const viaFlag = await run([name, '--help'])
      const viaHelp = await run(['help', name])
      expect(viaFlag.code).toBe(0)
      expect(viaFlag.stdout).toBe(viaHelp.stdout)
      expect(viaFlag.stdout).toContain(`Usage: chorus ${name}`)
      expect(viaFlag.stdout).toContain('--peer URL')
      expect(viaFlag.stdout).toContain('Examples:')
    }
    const invoke = (await run(['invoke', '-h'])).stdout
    for (const flag of ['--input', '--priority', '--qos', '--no-wait', '--idempotency-key']) {
      expect(invoke).toContain(flag)
    }
  })

  it('prints its version', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, stdout: 'chorus 0.1.0\n', stderr: '' })
  })
})

describe('the chorus program', () => {
  const root = fileURLToPath(new URL('../../../..', import.meta.url))
  const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))
  const exec = promisify(execFile)

  function chorus(args: string[]) {
    return exec(process.execPath, ['--conditions=chorus-source', '--import', 'tsx', cli, ...args], {
      cwd: root,
      env: { ...process.env, CHORUS_PEER: '' },
    })
      .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }))
      .catch((err: { code: number; stdout: string; stderr: string }) => err)
  }

  it('runs as a program: help exits 0', async () => {
    const { code, stdout } = await chorus(['--help'])
    expect(code).toBe(0)
    expect(stdout).toContain('Usage: chorus <command> [flags]')
  })

  it('runs as a program: an unreachable peer exits 1, a usage error 2', async () => {
    const url = await closedUrl()
    const unreachable = await chorus(['peers', '--peer', url])
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toContain(`cannot reach the peer at ${url}`)
    expect((await chorus(['peers', '--bogus'])).code).toBe(2)
  })
})
