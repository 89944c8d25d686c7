/**
 * The guestbook's messages. Not a leak: it keeps the newest `limit` messages and drops
 * older ones, so however many people sign, its size levels off.
 */
export class Guestbook {
  #messages = [];
  #limit;

  constructor(limit) {
    this.#limit = limit;
  }

  /** Adds a message; returns it. */
  add(name, text) {
    const message = { name, text, at: Date.now() };
    this.#messages.unshift(message);
    if (this.#messages.length > this.#limit) this.#messages.length = this.#limit;
    return message;
  }

  /** Newest first. */
  list() {
    return this.#messages.slice();
  }
}
