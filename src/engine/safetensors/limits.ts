/**
 * Named limits for safetensors headers, each with the reason it exists.
 */

/**
 * The safetensors reference implementation refuses headers above 100 MB. A real 7B header is
 * ~50 KB; a large one means a corrupt length field, and believing it would make us fetch (and
 * JSON-parse) up to the whole file.
 */
export const MAX_HEADER_LENGTH = 100_000_000;

/** The first 8 bytes are the little-endian u64 header length. */
export const HEADER_LENGTH_PREFIX = 8;

/** A tensor with more dimensions than this is not a transformer weight; refuse rather than guess. */
export const MAX_TENSOR_RANK = 8;
