/**
 * The agent API (data plane, openapi/agent.json): clusters pull their desired state and report
 * back. Same server, same ARM error shape; authenticated by the cluster's own key, never by ARM tokens.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { errors } from "../../arm/errors.js";
import { conditionMatches, parseTagCondition } from "../../arm/etag.js";
import { clusterKeyOf, clusterRef } from "../../arm/resource-ids.js";
import type { AgentAuthenticator } from "./agent-authenticator.js";
import type { AgentReports, Heartbeat, StatusReport } from "../../domain/agent-reports.js";
import type { ClusterRef } from "../../domain/clusters.js";
import { ClusterGoneError, type DesiredState } from "../../domain/desired-state.js";
import type { FluxConfigurations, FluxStatusReport } from "../../domain/flux-configurations.js";
import { validateRequestBody } from "../../openapi/index.js";
import { requireJsonBody } from "../request-body.js";

export interface AgentServices {
  authenticator: AgentAuthenticator;
  desired: DesiredState;
  reports: AgentReports;
  /** Flux v2 status reports (issue #16) */
  flux: FluxConfigurations;
}

const BASE = "/agent/v1/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.Kubernetes/connectedClusters/:clusterName";
export const MAX_WAIT_SECONDS = 60;

type Params = { subscriptionId: string; resourceGroupName: string; clusterName: string; configurationName?: string };

/** the token must speak for the cluster in the path: authentication, then this, then anything else */
async function authorize(services: AgentServices, request: FastifyRequest): Promise<ClusterRef> {
  // a token verified before, whose key is still trusted, is answered without a promise in between
  const authorization = request.headers.authorization;
  const principal = services.authenticator.remembered(authorization) ?? (await services.authenticator.authenticate(authorization));
  const p = request.params as Params;
  const ref = clusterRef(p.subscriptionId, p.resourceGroupName, p.clusterName);
  if (principal.clusterKey !== clusterKeyOf(ref.id)) throw errors.agentForbidden();
  return ref;
}

function waitSecondsOf(request: FastifyRequest): number {
  const raw = (request.query as Record<string, unknown>).waitSeconds;
  if (raw === undefined || raw === "") return 0;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > MAX_WAIT_SECONDS) throw errors.invalidParameter("waitSeconds", `waitSeconds must be an integer from 0 to ${MAX_WAIT_SECONDS}.`);
  return value;
}

export function registerAgentRoutes(app: FastifyInstance, services: AgentServices): void {
  // long polls end (304) when the server closes, so shutdown is not held up by waiting agents
  const closing = new AbortController();
  app.addHook("preClose", async () => closing.abort());

  const snapshotOf = async (ref: ClusterRef) => {
    try {
      return await services.desired.get(ref);
    } catch (err) {
      if (err instanceof ClusterGoneError) throw errors.authenticationInvalid("the token's cluster is not registered");
      throw err;
    }
  };

  app.get(`${BASE}/configurations`, { config: { operationId: "Agent_GetConfigurations", quietWhenUnchanged: true } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const ref = await authorize(services, request);
    const waitSeconds = waitSecondsOf(request);
    let snapshot = services.desired.fresh(ref) ?? (await snapshotOf(ref));
    // RFC 9110 If-None-Match: weak comparison, any tag of a list (or "*") answers 304; the agent's usual
    // header is exactly the tag it was given, compared first without parsing
    const known = request.headers["if-none-match"];
    if (known !== undefined && (known === snapshot.etag || (known.trim() !== "" && conditionMatches(parseTagCondition(known), snapshot.etag, "weak")))) {
      if (waitSeconds === 0) return reply.code(304).header("etag", snapshot.etag).send();
      // a long poll only: what ends the wait (the agent gone, the server closing)
      const gone = new AbortController();
      reply.raw.on("close", () => gone.abort());
      const newer = await services.desired.waitForChange(ref, snapshot.etag, waitSeconds * 1000, AbortSignal.any([gone.signal, closing.signal]));
      if (!newer) return reply.code(304).header("etag", snapshot.etag).send();
      snapshot = newer;
    }
    return reply.code(200).header("etag", snapshot.etag).header("cache-control", "no-store").type("application/json; charset=utf-8").send(services.desired.body(snapshot));
  });

  app.post(`${BASE}/configurations/:configurationName/status`, { config: { operationId: "Agent_ReportStatus" } }, async (request, reply) => {
    const ref = await authorize(services, request);
    const body = requireJsonBody(request);
    validateRequestBody("Agent_ReportStatus", body);
    const outcome = await services.reports.status(ref, (request.params as Params).configurationName ?? "", body as unknown as StatusReport);
    return reply.code(200).type("application/json; charset=utf-8").send(outcome);
  });

  app.post(`${BASE}/fluxConfigurations/:fluxConfigurationName/status`, { config: { operationId: "Agent_ReportFluxStatus" } }, async (request, reply) => {
    const ref = await authorize(services, request);
    const body = requireJsonBody(request);
    validateRequestBody("Agent_ReportFluxStatus", body);
    const name = (request.params as { fluxConfigurationName?: string }).fluxConfigurationName ?? "";
    const outcome = await services.flux.report(ref, name, body as unknown as FluxStatusReport);
    return reply.code(200).type("application/json; charset=utf-8").send(outcome);
  });

  app.post(`${BASE}/heartbeat`, { config: { operationId: "Agent_Heartbeat" } }, async (request, reply) => {
    const ref = await authorize(services, request);
    const body = requireJsonBody(request);
    validateRequestBody("Agent_Heartbeat", body);
    await services.reports.heartbeat(ref, body as unknown as Heartbeat);
    return reply.code(204).send();
  });
}
