import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";

/** Error codes the gateway itself produces (besides the shared ones in @insitu/errors). */
export const GatewayErrorCode = {
  invalidRequest: "INVALID_REQUEST",
  unauthorized: "UNAUTHORIZED",
  tooManyStreams: "TOO_MANY_STREAMS",
  payloadTooLarge: "PAYLOAD_TOO_LARGE",
  unsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
  routeNotFound: "ROUTE_NOT_FOUND",
  methodNotAllowed: "METHOD_NOT_ALLOWED",
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

/**
 * HTTP status for a typed error. User mistakes are 4xx; a dependency that did not answer is 503/504
 * (retryable); anything else is a 500 with the code kept so the client can report it.
 */
export function httpStatusFor(error: InsituError): number {
  switch (error.code) {
    case GatewayErrorCode.invalidRequest:
    case ErrorCode.invalidMessage:
    case ErrorCode.malformedJson:
    case ErrorCode.messageTooDeep:
      return 400;
    case GatewayErrorCode.unauthorized:
      return 401;
    case ErrorCode.notFound:
    case GatewayErrorCode.routeNotFound:
      return 404;
    case GatewayErrorCode.methodNotAllowed:
      return 405;
    case ErrorCode.conflict:
      return 409;
    case GatewayErrorCode.payloadTooLarge:
    case ErrorCode.messageTooLarge:
    case "ATTACHMENT_TOO_LARGE":
    case "BATCH_INPUT_TOO_LARGE":
      return 413;
    case GatewayErrorCode.unsupportedMediaType:
    case "ATTACHMENT_TYPE_MISMATCH":
      return 415;
    case ErrorCode.budgetExceeded:
      return 429;
    case ErrorCode.timeout:
      return 504;
    case ErrorCode.unavailable:
    case GatewayErrorCode.tooManyStreams:
      return 503;
    default:
      return error.category === ErrorCategory.user ? 400 : error.retryable ? 503 : 500;
  }
}

export function invalidRequest(message: string, issues: { path: string; message: string }[]): InsituError {
  return new InsituError(message, {
    code: GatewayErrorCode.invalidRequest,
    category: ErrorCategory.user,
    details: { issues },
  });
}
