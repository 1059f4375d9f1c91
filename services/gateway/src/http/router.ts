/**
 * A small exact router: `GET /v1/tasks/:id/events`. Params are single path segments, decoded;
 * no regex routes and no wildcards, so what is reachable is exactly the table.
 */
export type Method = "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS";

export interface Route<Handler> {
  method: Method;
  pattern: string;
  /** Stable label for metrics (the pattern, never the raw path). */
  name: string;
  handler: Handler;
}

export type RouteMatch<Handler> =
  | { kind: "found"; route: Route<Handler>; params: Record<string, string> }
  | { kind: "method-not-allowed"; allowed: Method[] }
  | { kind: "not-found" };

export function defineRoute<Handler>(method: Method, pattern: string, handler: Handler): Route<Handler> {
  return { method, pattern, name: `${method} ${pattern}`, handler };
}

export function matchRoute<Handler>(
  routes: readonly Route<Handler>[],
  method: string,
  path: string,
): RouteMatch<Handler> {
  const segments = splitPath(path);
  if (segments === undefined) return { kind: "not-found" };
  const allowed: Method[] = [];
  for (const route of routes) {
    const params = matchPattern(route.pattern, segments);
    if (!params) continue;
    if (route.method === method || (method === "HEAD" && route.method === "GET"))
      return { kind: "found", route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { kind: "method-not-allowed", allowed } : { kind: "not-found" };
}

function splitPath(path: string): string[] | undefined {
  const parts = path.split("/").filter((part, index) => index > 0 || part !== "");
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  try {
    return parts.map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
}

function matchPattern(pattern: string, segments: string[]): Record<string, string> | undefined {
  const parts = pattern.split("/").filter(Boolean);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let index = 0; index < parts.length; index += 1) {
    const part = parts[index]!;
    const segment = segments[index]!;
    if (part.startsWith(":")) {
      if (segment === "") return undefined;
      params[part.slice(1)] = segment;
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}
