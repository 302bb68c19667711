import { describe, expect, it } from 'vitest'
import { OrderedRouter } from '../../src/http/ordered-router.js'

function router(routes: [string, string][]): OrderedRouter<string> {
  const r = new OrderedRouter<string>()
  routes.forEach(([method, path], i) => r.add(method, path, `${i} ${method} ${path}`))
  return r
}

const names = (r: OrderedRouter<string>, method: string, path: string) =>
  r.match(method, path)[0].map(([handler, params]) => [handler.split(' ')[0], params])

describe('OrderedRouter', () => {
  const r = router([
    ['ALL', '*'],
    ['POST', '/v1/owners/:owner{[^/]*}/functions/:name{.*}/invocations'],
    ['ALL', '/v1/owners/:owner{[^/]*}/functions/:name{.*}/invocations'],
    ['GET', '/v1/owners/:owner{[^/]*}/functions/:name{.*}'],
    ['ALL', '/v1/owners/:owner{[^/]*}/functions/:name{.*}'],
    ['GET', '/v1/health'],
    ['GET', '/v1/invocations/:id'],
  ])

  it('answers every route that matches, in the order they were added, with their params', () => {
    expect(names(r, 'POST', '/v1/owners/acme/functions/img/resize/invocations')).toEqual([
      ['0', {}],
      ['1', { owner: 'acme', name: 'img/resize' }],
      ['2', { owner: 'acme', name: 'img/resize' }],
      ['4', { owner: 'acme', name: 'img/resize/invocations' }],
    ])
    expect(names(r, 'GET', '/v1/owners/acme/functions/a/invocations').map(([i]) => i)).toEqual([
      '0',
      '2',
      '3',
      '4',
    ])
  })

  it('takes only the method asked for, or ALL', () => {
    expect(names(r, 'DELETE', '/v1/health')).toEqual([['0', {}]])
    expect(names(r, 'GET', '/v1/health')).toEqual([
      ['0', {}],
      ['5', {}],
    ])
  })

  it('reads empty params where the pattern allows them, and nowhere else', () => {
    expect(names(r, 'GET', '/v1/owners//functions/')).toEqual([
      ['0', {}],
      ['3', { owner: '', name: '' }],
      ['4', { owner: '', name: '' }],
    ])
    expect(names(r, 'GET', '/v1/invocations/')).toEqual([['0', {}]])
    expect(names(r, 'GET', '/v1/invocations/a/b')).toEqual([['0', {}]])
  })

  it('folds no trailing slash, and takes dots and regex characters in paths literally', () => {
    expect(names(r, 'GET', '/v1/health/')).toEqual([['0', {}]])
    const dots = router([['GET', '/v1/openapi.json']])
    expect(dots.match('GET', '/v1/openapi.json')[0]).toHaveLength(1)
    expect(dots.match('GET', '/v1/openapiXjson')[0]).toHaveLength(0)
  })

  it('answers the same path twice in a row the same way (its match is reused)', () => {
    const first = names(r, 'POST', '/v1/owners/a/functions/f/invocations')
    expect(names(r, 'POST', '/v1/owners/a/functions/f/invocations')).toEqual(first)
    expect(names(r, 'POST', '/v1/owners/b/functions/f/invocations')[1]).toEqual([
      '1',
      { owner: 'b', name: 'f' },
    ])
  })
})
