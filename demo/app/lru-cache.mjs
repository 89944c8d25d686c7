/**
 * A least-recently-used cache of at most `capacity` entries. Not a leak: once full,
 * each new entry evicts the oldest one, so in apptrace's graphs its line rises while it
 * fills and then stays flat. (A Map iterates in insertion order; re-inserting a key on
 * every hit keeps the least recently used entry first.)
 */
export class LruCache {
  #map = new Map();
  #capacity;

  constructor(capacity) {
    if (!(capacity > 0)) throw new RangeError(`LruCache capacity must be positive, got ${capacity}`);
    this.#capacity = capacity;
  }

  get size() {
    return this.#map.size;
  }

  get(key) {
    if (!this.#map.has(key)) return undefined;
    const value = this.#map.get(key);
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  set(key, value) {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#capacity) this.#map.delete(this.#map.keys().next().value);
    return this;
  }
}
