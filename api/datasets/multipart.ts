/**
 * Streaming `multipart/form-data` on Web streams, with backpressure. Hono's `parseBody()`/`formData()` and most
 * parsers buffer each part; here a file part is handed over as a ReadableStream while the request is still
 * arriving, and the request is read only as fast as that stream is consumed. The byte-level parsing is
 * multipasta's (push-based, no buffering of file parts); this module adds the pull side.
 *
 * (It lives beside the dataset code because that is where uploads are ingested; it knows nothing of datasets.)
 */
import * as Multipasta from "multipasta";

export type MultipartErrorKind = "not_multipart" | "malformed" | "too_large" | "aborted";

/** A failure of the body itself (not of what a handler did with it). */
export class MultipartError extends Error {
  readonly kind: MultipartErrorKind;
  constructor(kind: MultipartErrorKind, message: string) {
    super(message);
    this.name = "MultipartError";
    this.kind = kind;
  }
}

export interface FilePart {
  name: string;
  filename: string | undefined;
  contentType: string;
  /**
   * Bytes this part is sure to have if it is the body's last part (no more than `FRAMING_SLACK` bytes of framing
   * after it): the request's Content-Length less what was read before the part began. Undefined without a length.
   */
  bytesIfLast: number | undefined;
}

/** What may follow the last part's bytes: its closing delimiter (a boundary is at most 70 bytes) and an epilogue. */
const FRAMING_SLACK = 64 * 1024;

export interface MultipartHandlers {
  /** Field names whose content is streamed to `onFile` (whether or not the client sent a filename). */
  fileFields: readonly string[];
  onField: (name: string, value: string) => void;
  /**
   * Gets a file part's bytes as a stream it must consume or cancel. The reader goes on with the rest of the
   * body once the stream has ended; the returned promise is awaited before `readMultipart` returns.
   */
  onFile: (part: FilePart, body: ReadableStream<Uint8Array>) => Promise<void>;
  /** Stops reading (and fails) past this many body bytes. */
  maxBodyBytes: number;
  maxFieldBytes?: number;
  maxParts?: number;
  /** Called when reading stops before the end of the body (past `maxBodyBytes`): the connection is unusable. */
  onAbandoned?: () => void;
}

/** Bytes a file stream may hold before the request is paused. */
const FILE_QUEUE_BYTES = 1024 * 1024;

const describeError = (error: Multipasta.MultipartError): MultipartError => {
  switch (error._tag) {
    case "InvalidBoundary":
      return new MultipartError("not_multipart", "The multipart/form-data content type has no boundary");
    case "ReachedLimit":
      return new MultipartError("too_large", `The multipart body exceeds a limit (${error.limit})`);
    case "EndNotReached":
      return new MultipartError("malformed", "The multipart body ended before its closing boundary");
    case "InvalidDisposition":
      return new MultipartError("malformed", "A multipart part has no name in its Content-Disposition header");
    default:
      return new MultipartError("malformed", "A multipart part has malformed headers");
  }
};

interface OpenFile {
  controller: ReadableStreamDefaultController<Uint8Array>;
  cancelled: boolean;
  wake: (() => void) | null;
}

/**
 * Reads the whole multipart body of `request`, calling the handlers in body order. The first failure (a malformed
 * body, an aborted request, a handler that threw or rejected) is thrown once the body has been read to its end,
 * so the client always gets the response; past `maxBodyBytes` reading stops at once.
 */
export async function readMultipart(request: Request, handlers: MultipartHandlers): Promise<void> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType) || !request.body) {
    throw new MultipartError("not_multipart", "Expected a multipart/form-data body");
  }
  let failure: unknown = null;
  const fail = (err: unknown) => {
    failure ??= err;
  };
  const pending: Promise<void>[] = [];
  let done = false;
  let open: OpenFile | null = null;
  const closeOpen = (err?: unknown) => {
    if (!open) return;
    if (!open.cancelled) {
      if (err === undefined) open.controller.close();
      else open.controller.error(err);
    }
    open.wake?.();
    open = null;
  };

  const fileFields = new Set(handlers.fileFields);
  const announced = Number(request.headers.get("content-length") ?? Number.NaN);
  let total = 0;
  const parser = Multipasta.make({
    headers: { "content-type": contentType },
    maxParts: handlers.maxParts ?? 16,
    maxFieldSize: handlers.maxFieldBytes ?? 64 * 1024,
    isFile: (info) => fileFields.has(info.name),
    onField(info, value) {
      if (failure) return;
      try {
        handlers.onField(info.name, Multipasta.decodeField(info, value));
      } catch (err) {
        fail(err);
      }
    },
    onFile(info) {
      if (failure) return () => {};
      const file: OpenFile = { controller: null as never, cancelled: false, wake: null };
      const body = new ReadableStream<Uint8Array>(
        {
          start(controller) {
            file.controller = controller;
          },
          pull() {
            file.wake?.();
          },
          cancel() {
            file.cancelled = true;
            file.wake?.();
          },
        },
        new ByteLengthQueuingStrategy({ highWaterMark: FILE_QUEUE_BYTES }),
      );
      open = file;
      const part = {
        name: info.name,
        filename: info.filename,
        contentType: info.contentType,
        bytesIfLast: Number.isSafeInteger(announced) ? Math.max(0, announced - total - FRAMING_SLACK) : undefined,
      };
      pending.push(
        Promise.resolve()
          .then(() => handlers.onFile(part, body))
          .catch((err) => {
            fail(err);
            // A handler that gave up without cancelling must not stall the reader.
            if (!file.cancelled) body.cancel(err).catch(() => {});
          }),
      );
      return (chunk) => {
        if (file !== open || file.cancelled) return;
        if (chunk === null) closeOpen();
        else file.controller.enqueue(chunk);
      };
    },
    onError(error) {
      const err = describeError(error);
      fail(err);
      closeOpen(err);
    },
    onDone() {
      done = true;
    },
  });

  const reader = request.body.getReader();
  try {
    for (;;) {
      const file = open as OpenFile | null;
      if (file && !file.cancelled && (file.controller.desiredSize ?? 1) <= 0) {
        await new Promise<void>((resolve) => {
          file.wake = resolve;
        });
        file.wake = null;
        continue;
      }
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > handlers.maxBodyBytes) {
        const err = new MultipartError("too_large", `The request body is larger than ${handlers.maxBodyBytes} bytes`);
        handlers.onAbandoned?.();
        await reader.cancel(err).catch(() => {});
        closeOpen(err);
        // A handler that already gave up (say, its own size limit) has the more precise error: let it land first.
        await Promise.all(pending);
        fail(err);
        break;
      }
      // After a failure the rest of the body is only drained, so that the client still reads the response.
      if (!failure) parser.write(value);
    }
    if (!failure) parser.end();
    if (!failure && !done)
      fail(new MultipartError("malformed", "The multipart body ended before its closing boundary"));
  } catch (err) {
    const aborted = new MultipartError("aborted", `The request body could not be read: ${(err as Error).message}`);
    fail(aborted);
    closeOpen(aborted);
  }
  closeOpen(failure ?? new MultipartError("malformed", "The multipart body ended inside a part"));
  await Promise.all(pending);
  if (failure) throw failure;
}
