/**
 * queue.writeBuffer for bytes of any length: WebGPU wants a multiple of 4 bytes (an odd count of
 * 16-bit elements is padded with zeros), and the (ArrayBuffer, byteOffset, size) form is used
 * explicitly because Dawn's Node binding mishandles typed-array views with a byteOffset
 * ("Invalid argument" inside writeBuffer).
 */
export function writeBufferPadded(queue: GPUQueue, buffer: GPUBuffer, offset: number, bytes: Uint8Array): void {
  let data = bytes;
  if (bytes.byteLength % 4 !== 0) {
    data = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    data.set(bytes);
  }
  queue.writeBuffer(buffer, offset, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}
