/** A Map that forgets its oldest entries beyond a capacity. */
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>()

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#map.size
  }

  get(key: K): V | undefined {
    return this.#map.get(key)
  }

  has(key: K): boolean {
    return this.#map.has(key)
  }

  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.capacity) {
      const oldest = this.#map.keys().next()
      if (!oldest.done) this.#map.delete(oldest.value)
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key)
  }
}
