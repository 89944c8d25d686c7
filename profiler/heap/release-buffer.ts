/**
 * Gives an ArrayBuffer's memory back without waiting for a full garbage collection
 * (which may come much later, after more memory was taken, so that buffers already
 * dropped still count in the peak): the buffer is transferred into a message that is
 * dropped, which frees it once the event loop turns. The buffer (and every view of it)
 * must not be used afterwards; it reads as empty.
 */
import { MessageChannel } from 'node:worker_threads';

export function releaseBuffer(buffer: ArrayBufferLike): void {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return;
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, [buffer]);
  port1.close();
  port2.close();
}
