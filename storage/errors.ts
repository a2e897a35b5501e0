/**
 * Why an object store call failed, for the callers that must tell failures apart (a missing object, a body
 * shorter than promised; a bad key is a bug in the caller). Transport errors from a backend pass
 * through unchanged.
 */
export type ObjectStoreErrorCode =
  /** The key (or list prefix) breaks the key rules in `validate.ts`. */
  | "invalid_key"
  /** A bad argument other than the key: a negative range, an out-of-range expiry. */
  | "invalid_argument"
  /** An object that the call needs (a part of a composite object) does not exist. */
  | "not_found"
  /** The local directory cannot hold the key because a file sits where a folder is needed, or the reverse. */
  | "conflict"
  /** The body's length differs from `contentLength`, or a backend stored something other than what was sent. */
  | "length_mismatch";

export class ObjectStoreError extends Error {
  override readonly name = "ObjectStoreError";
  constructor(
    readonly code: ObjectStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
