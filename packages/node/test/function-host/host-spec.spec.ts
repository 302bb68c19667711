/** validateHostSpec holds a host to the same rules as every function spec. */
import { describe, expect, it } from 'vitest'
import { asChorusError } from '../../src/errors.js'
import { validateHostSpec, type FunctionHostSpec } from '../../src/function-host/host-spec.js'

const NODEJS: FunctionHostSpec = { runtime: 'nodejs', code: 'x', memoryMb: 64, concurrency: 1 }
const PROCESS: FunctionHostSpec = {
  runtime: 'process',
  codeDir: '/srv/fn',
  command: ['./server'],
  memoryMb: 64,
  concurrency: 1,
}

function problem(spec: FunctionHostSpec): string | undefined {
  try {
    validateHostSpec(spec)
    return undefined
  } catch (err) {
    const e = asChorusError(err)
    expect(e.code).toBe('bad-request')
    return e.message
  }
}

describe('validateHostSpec', () => {
  it('takes a nodejs and a process host', () => {
    expect(problem(NODEJS)).toBeUndefined()
    expect(problem(PROCESS)).toBeUndefined()
  })

  it.each([
    [{ ...NODEJS, memoryMb: 0 }, 'memoryMb must be an integer from 1 to 1048576'],
    [{ ...NODEJS, memoryMb: 2_000_000 }, 'memoryMb must be an integer from 1 to 1048576'],
    [{ ...NODEJS, concurrency: 10_001 }, 'concurrency must be an integer from 1 to 10000'],
    [
      { ...NODEJS, runtime: 'python' as never },
      'runtime must be "nodejs" or "process", not "python"',
    ],
    [{ ...PROCESS, command: undefined }, 'a process host needs a command: ["executable", ...args]'],
    [{ ...PROCESS, command: [] }, 'command must be a non-empty array of strings'],
    [{ ...PROCESS, command: [''] }, 'command[0] must not be empty'],
    [{ ...PROCESS, command: ['./s', 'a\0b'] }, 'a command argument contains a NUL character'],
  ])('refuses %j', (spec, message) => {
    expect(problem(spec)).toBe(`function host spec: ${message}`)
  })
})
