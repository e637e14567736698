/** Subscription lifecycle notifications from ARM (RPC: PUT /subscriptions/{id}?api-version=2.0). */
import { errors } from "../../arm/errors.js";
import type { LifecycleNotification } from "../../domain/subscriptions.js";
import { subscriptionResource } from "./representations.js";
import type { ArmCall, ArmResult, ArmRoute } from "./route-table.js";

export const SUBSCRIPTIONS_TYPE = "subscriptions";

async function put(call: ArmCall): Promise<ArmResult> {
  if (!call.services.authenticator.isTrustedCaller(call.principal)) throw errors.untrustedCaller();
  const subscriptionId = call.params.subscriptionId ?? "";
  await call.services.subscriptions.notify(call.principal, subscriptionId, call.body as unknown as LifecycleNotification);
  // the RPC's answer to a notification is the notification itself
  return { status: 200, body: call.body };
}

async function get(call: ArmCall): Promise<ArmResult> {
  const subscriptionId = call.params.subscriptionId ?? "";
  const record = await call.services.subscriptions.get(call.principal, subscriptionId);
  if (!record) throw errors.subscriptionNotFound(subscriptionId);
  return { status: 200, body: subscriptionResource(record) };
}

export const subscriptionRoutes: ArmRoute[] = [
  { operationId: "Subscriptions_Put", method: "PUT", url: "/subscriptions/:subscriptionId", resourceType: SUBSCRIPTIONS_TYPE, handler: put },
  { operationId: "Subscriptions_Get", method: "GET", url: "/subscriptions/:subscriptionId", resourceType: SUBSCRIPTIONS_TYPE, handler: get },
];
