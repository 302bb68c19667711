import { describe, expect, it } from 'vitest'
import {
  MAX_CHUNK_BYTES,
  codeChunkSchema,
  codeFetchRequestSchema,
  definitionsGossipSchema,
  syncAnswerSchema,
  syncRequestSchema,
} from '../../src/definitions/definition-messages.js'
import { SYNC_LIMITS } from '../../src/definitions/definition-log.js'
import { parseMessage } from '../../src/transport/rpc-message.js'

const DIGEST = 'a'.repeat(64)
const answer = syncAnswerSchema({ ...SYNC_LIMITS, maxOps: 2, maxDiffer: 1 })

describe('the definitions messages', () => {
  it.each([
    ['a sync request without its version', syncRequestSchema, { from: '' }],
    ['a sync request of another version', syncRequestSchema, { v: 2, from: '' }],
    ['a sync answer with too many ops', answer, { ops: [1, 2, 3], differ: [], more: false }],
    ['a sync answer naming a bad owner', answer, { ops: [], differ: ['../evil'], more: false }],
    ['a sync answer with too many owners', answer, { ops: [], differ: ['a', 'b'], more: false }],
    ['a sync answer without more', answer, { ops: [], differ: [] }],
    [
      'a code request for a non-digest',
      codeFetchRequestSchema,
      { digest: 'x', offset: 0, length: 1 },
    ],
    [
      'a code request in upper case',
      codeFetchRequestSchema,
      { digest: 'A'.repeat(64), offset: 0, length: 1 },
    ],
    [
      'a code request at a negative offset',
      codeFetchRequestSchema,
      { digest: DIGEST, offset: -1, length: 1 },
    ],
    [
      'a code request for no bytes',
      codeFetchRequestSchema,
      { digest: DIGEST, offset: 0, length: 0 },
    ],
    [
      'a chunk bigger than a chunk may be',
      codeChunkSchema,
      { size: 1, offset: 0, data: 'A'.repeat(MAX_CHUNK_BYTES * 2) },
    ],
    ['a chunk of a negative size', codeChunkSchema, { size: -1, offset: 0, data: '' }],
    ['gossip of another version', definitionsGossipSchema, { v: 2, ops: [] }],
    [
      'gossip of too many ops',
      definitionsGossipSchema,
      { v: 1, ops: Array.from({ length: 65 }, () => ({})) },
    ],
  ])('refuse %s with a typed error', (_what, schema, body) => {
    expect(() => parseMessage(schema, body, 'test', 'bad-request')).toThrow(
      expect.objectContaining({
        code: 'bad-request',
        message: expect.stringMatching(/^test: malformed message/) as unknown,
      }),
    )
  })

  it('accept what peers send', () => {
    expect(syncRequestSchema.parse({ v: 1, from: '', owners: {} })).toEqual({
      v: 1,
      from: '',
      owners: {},
    })
    expect(answer.parse({ v: 1, ops: [{}], differ: ['acme'], more: true, next: 'acme' })).toEqual({
      ops: [{}],
      differ: ['acme'],
      more: true,
      next: 'acme',
    })
    expect(codeFetchRequestSchema.parse({ digest: DIGEST, offset: 0, length: 1e12 })).toEqual({
      digest: DIGEST,
      offset: 0,
      length: 1e12,
    })
  })
})
