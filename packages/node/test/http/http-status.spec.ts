import { describe, expect, it } from 'vitest'
import type { ChorusErrorCode } from '../../src/errors.js'
import { httpStatus, type HttpErrorCode } from '../../src/http/http-status.js'

describe('httpStatus', () => {
  it('maps every error code to its status', () => {
    const expected: Record<HttpErrorCode, number> = {
      'bad-request': 400,
      'invalid-json': 400,
      'body-too-large': 413,
      'not-found': 404,
      'unknown-owner': 404,
      'unknown-function': 404,
      'unknown-choreography': 404,
      'unknown-invocation': 404,
      'not-responsible': 409,
      'stale-epoch': 409,
      'peer-unreachable': 502,
      timeout: 504,
      overloaded: 503,
      'shutting-down': 503,
      'protocol-error': 502,
      'unknown-method': 502,
      'unsupported-version': 502,
      internal: 500,
      'method-not-allowed': 405,
      'unsupported-media-type': 415,
    }
    for (const [code, status] of Object.entries(expected)) {
      expect(httpStatus(code as HttpErrorCode), code).toBe(status)
    }
  })

  it('answers 500 for a code it does not know', () => {
    expect(httpStatus('made-up' as ChorusErrorCode)).toBe(500)
    expect(httpStatus('toString' as ChorusErrorCode)).toBe(500)
  })
})
