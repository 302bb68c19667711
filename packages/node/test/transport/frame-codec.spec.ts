import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameDecoder, FrameError, encodeFrame } from '../../src/transport/frame-codec.js'

describe('frames', () => {
  it('decode back whatever was encoded, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (values, cuts) => {
          const bytes = Buffer.concat(values.map((v) => encodeFrame(v)))
          const decoder = new FrameDecoder()
          const out: unknown[] = []
          let at = 0
          for (let i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length] as number
            out.push(...decoder.push(bytes.subarray(at, at + size)))
            at += size
          }
          expect(out).toEqual(values.map((v) => JSON.parse(JSON.stringify(v)) as unknown))
        },
      ),
    )
  })

  it('refuses a frame over the limit from its header alone', () => {
    const decoder = new FrameDecoder(1024)
    expect(() => decoder.push(new Uint8Array([0, 0, 4, 1]))).toThrow(FrameError)
    expect(() => encodeFrame({ big: 'x'.repeat(2000) }, 1024)).toThrow(/exceeds the limit/)
  })

  it.each([
    ['invalid UTF-8', new Uint8Array([0, 0, 0, 2, 0xc3, 0x28])],
    ['not JSON', new Uint8Array([0, 0, 0, 3, 0x61, 0x62, 0x63])],
    ['a JSON array', new Uint8Array([0, 0, 0, 2, 0x5b, 0x5d])],
    ['JSON null', new Uint8Array([0, 0, 0, 4, 0x6e, 0x75, 0x6c, 0x6c])],
  ])('refuses %s', (_what, bytes) => {
    expect(() => new FrameDecoder().push(bytes)).toThrow(FrameError)
  })
})
