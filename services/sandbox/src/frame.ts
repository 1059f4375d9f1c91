/**
 * The result channel: the runner writes one frame `\x1e<nonce>:<length>:<json>\n` on stdout. The
 * nonce is per call and never visible to the tool, so a frame without it is just tool output.
 */

export interface FrameScan {
  /** Bodies of frames carrying the nonce (a genuine run has exactly one). */
  frames: Buffer[];
  /** Everything else on stdout (the tool's own prints). */
  rest: Buffer;
}

export function scanFrames(stdout: Buffer, nonce: string): FrameScan {
  const marker = Buffer.from(`\u001e${nonce}:`);
  const frames: Buffer[] = [];
  const rest: Buffer[] = [];
  let position = 0;
  for (;;) {
    const start = stdout.indexOf(marker, position);
    if (start < 0) break;
    rest.push(stdout.subarray(position, start));
    const lengthStart = start + marker.length;
    const colon = stdout.indexOf(0x3a, lengthStart);
    const lengthText = colon < 0 ? "" : stdout.subarray(lengthStart, colon).toString("latin1");
    if (!/^\d{1,10}$/.test(lengthText)) {
      // A damaged frame: count it so the caller refuses the run instead of trusting anything.
      frames.push(Buffer.alloc(0));
      position = lengthStart;
      continue;
    }
    const length = Number(lengthText);
    const bodyStart = colon + 1;
    frames.push(stdout.subarray(bodyStart, Math.min(bodyStart + length, stdout.length)));
    position = Math.min(bodyStart + length + 1, stdout.length);
  }
  rest.push(stdout.subarray(position));
  return { frames, rest: Buffer.concat(rest) };
}

export type BoundedParse =
  | { ok: true; value: unknown }
  | { ok: false; reason: "too-large" | "too-deep" | "malformed"; message: string };

/**
 * Parses untrusted JSON only after checking its size and nesting depth in one linear pass, so a
 * hostile 1 MB `[[[[…` never reaches JSON.parse's recursion.
 */
export function parseBoundedJson(
  bytes: Buffer,
  limits: { maxBytes: number; maxDepth: number },
): BoundedParse {
  if (bytes.length > limits.maxBytes) {
    return { ok: false, reason: "too-large", message: `${bytes.length} bytes exceeds ${limits.maxBytes}` };
  }
  let depth = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index];
    if (inString) {
      if (byte === 0x5c) index += 1;
      else if (byte === 0x22) inString = false;
      continue;
    }
    if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      depth += 1;
      if (depth > limits.maxDepth) {
        return { ok: false, reason: "too-deep", message: `nests deeper than ${limits.maxDepth} levels` };
      }
    } else if (byte === 0x5d || byte === 0x7d) depth -= 1;
  }
  try {
    return { ok: true, value: JSON.parse(bytes.toString("utf8")) };
  } catch (error) {
    return { ok: false, reason: "malformed", message: (error as Error).message };
  }
}
