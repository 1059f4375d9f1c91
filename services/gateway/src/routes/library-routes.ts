import { ErrorCategory, InsituError } from "@insitu/errors";
import { sendJson } from "../http/respond.js";
import { readJsonBody } from "../http/body.js";
import { defineRoute } from "../http/router.js";
import {
  ListReviewsQuerySchema,
  ListToolsQuerySchema,
  ReviewDecisionBodySchema,
  ToolNameParamSchema,
  VersionHashParamSchema,
  parseInput,
  queryObject,
} from "../validation.js";
import type { GatewayRoute, RouteDeps } from "./route-kit.js";

/** The tool library: tools, a tool's history, and operator review of versions. */
export function libraryRoutes({ options }: RouteDeps): GatewayRoute[] {
  const { backend } = options;
  const reviews = () => {
    const { listReviews, getVersion, decideReview } = backend;
    if (!listReviews || !getVersion || !decideReview) {
      throw new InsituError("this gateway has no registry to review tools with", {
        code: "UNAVAILABLE",
        category: ErrorCategory.system,
      });
    }
    return {
      listReviews: listReviews.bind(backend),
      getVersion: getVersion.bind(backend),
      decideReview: decideReview.bind(backend),
    };
  };

  return [
    defineRoute("GET", "/v1/tools", async ({ response, url }) => {
      const query = parseInput(ListToolsQuerySchema, queryObject(url.searchParams), "query");
      sendJson(
        response,
        200,
        await backend.listTools({
          ...(query.q === undefined ? {} : { query: query.q }),
          ...(query.limit === undefined ? {} : { limit: query.limit }),
        }),
      );
    }),
    defineRoute("GET", "/v1/tools/:name/history", async ({ response, params }) => {
      const { name } = parseInput(ToolNameParamSchema, params, "path");
      sendJson(response, 200, await backend.toolHistory(name));
    }),
    // Operator review (docs/adr/0130): what waits, one version in full, and the decision.
    defineRoute("GET", "/v1/reviews", async ({ response, url }) => {
      const query = parseInput(ListReviewsQuerySchema, queryObject(url.searchParams), "query");
      sendJson(response, 200, await reviews().listReviews(query));
    }),
    defineRoute("GET", "/v1/versions/:hash", async ({ response, params }) => {
      const { hash } = parseInput(VersionHashParamSchema, params, "path");
      sendJson(response, 200, await reviews().getVersion(hash));
    }),
    defineRoute("POST", "/v1/reviews/:hash/decision", async ({ request, response, params }) => {
      const { hash } = parseInput(VersionHashParamSchema, params, "path");
      const body = parseInput(
        ReviewDecisionBodySchema,
        await readJsonBody(request, options.bodyLimitBytes),
        "body",
      );
      sendJson(response, 200, await reviews().decideReview({ hash, ...body }));
    }),
  ];
}
