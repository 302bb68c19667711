import { describe, expect, it } from 'vitest'
import {
  checkFunctionSpec,
  commandProblem,
  FUNCTION_BOUNDS,
  isFunctionRuntime,
  limitProblem,
  urlProblem,
} from '../../src/definitions/function-spec.js'

describe('function spec rules', () => {
  it.each([
    ['memoryMb', 0],
    ['memoryMb', FUNCTION_BOUNDS.memoryMb.max + 1],
    ['timeoutMs', 1.5],
    ['concurrency', FUNCTION_BOUNDS.concurrency.max + 1],
    ['concurrency', '4'],
    ['memoryMb', Number.NaN],
  ] as const)('refuses %s %j', (field, value) => {
    const { min, max } = FUNCTION_BOUNDS[field]
    expect(limitProblem(field, value)).toBe(`${field} must be an integer from ${min} to ${max}`)
  })

  it.each([
    ['memoryMb', 1],
    ['memoryMb', FUNCTION_BOUNDS.memoryMb.max],
    ['timeoutMs', 60_000],
    ['concurrency', FUNCTION_BOUNDS.concurrency.max],
  ] as const)('takes %s %j', (field, value) => {
    expect(limitProblem(field, value)).toBeUndefined()
  })

  it.each([
    [[], 'command must be a non-empty array of strings'],
    ['./server', 'command must be a non-empty array of strings'],
    [['./server', 1], 'command must be a non-empty array of strings'],
    [[''], 'command[0] must not be empty'],
    [['a\0b'], 'a command argument contains a NUL character'],
    [['x'.repeat(FUNCTION_BOUNDS.commandArgChars + 1)], 'a command argument is longer than'],
    [Array(FUNCTION_BOUNDS.commandArgs + 1).fill('a'), 'command may have at most 256 arguments'],
  ])('refuses the command %j', (command, message) => {
    expect(commandProblem(command)).toContain(message)
  })

  it('takes a command', () => {
    expect(commandProblem(['./server', '--port', '$PORT'])).toBeUndefined()
  })

  it.each(['ftp://x.example', 'not a url', 42, `https://x.example/${'a'.repeat(2048)}`])(
    'refuses the url %j',
    (url) => {
      expect(urlProblem(url)).toBe('url must be an http(s) URL of at most 2048 characters')
    },
  )

  it('takes http and https urls', () => {
    expect(urlProblem('http://127.0.0.1:8080/f')).toBeUndefined()
    expect(urlProblem('https://fn.example/run')).toBeUndefined()
  })

  it('knows the runtimes', () => {
    expect(['nodejs', 'process', 'python', undefined].map(isFunctionRuntime)).toEqual([
      true,
      true,
      false,
      false,
    ])
  })

  it('fills in the defaults of a deploy, and holds a replicated spec to every field', () => {
    expect(checkFunctionSpec({ runtime: 'process', command: ['./s'] }, true)).toEqual({
      runtime: 'process',
      provider: 'mesh',
      memoryMb: 128,
      timeoutMs: 60_000,
      concurrency: 1,
      command: ['./s'],
    })
    expect(
      checkFunctionSpec({ runtime: 'process', provider: 'mesh', command: ['./s'] }, false),
    ).toBe('memoryMb must be an integer from 1 to 1048576')
  })
  it('takes a batch with the function, its wait defaulting at a deploy only', () => {
    const base = { runtime: 'process', command: ['./s'], concurrency: 8 }
    expect(checkFunctionSpec({ ...base, batch: { size: 8 } }, true)).toMatchObject({
      batch: { size: 8, waitMs: 10 },
    })
    const full = { ...base, provider: 'mesh', memoryMb: 128, timeoutMs: 1000 }
    expect(checkFunctionSpec({ ...full, batch: { size: 2, waitMs: 0 } }, false)).toMatchObject({
      batch: { size: 2, waitMs: 0 },
    })
    expect(checkFunctionSpec({ ...full, batch: { size: 2 } }, false)).toBe(
      'batch.waitMs must be an integer from 0 to 60000',
    )
    expect(checkFunctionSpec({ ...full }, false)).not.toHaveProperty('batch')
  })

  it.each([
    [{ size: 0 }, 'batch.size must be an integer from 1 to 1000'],
    [{ size: 1001 }, 'batch.size must be an integer from 1 to 1000'],
    [{ size: 2, waitMs: 60_001 }, 'batch.waitMs must be an integer from 0 to 60000'],
    [{ size: 9 }, 'batch.size (9) must not exceed concurrency (8)'],
    ['8', 'batch must be an object: { size, waitMs }'],
  ])('refuses the batch %j', (batch, message) => {
    const spec = { runtime: 'process', command: ['./s'], concurrency: 8, batch }
    expect(checkFunctionSpec(spec, true)).toContain(message)
  })
})
