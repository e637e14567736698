/** Subscription lifecycle notifications from ARM (RPC: PUT /subscriptions/{id}?api-version=2.0). */
import { errors } from "../../arm/errors.js";
import type { LifecycleNotification } from "../../domain/subscriptions.js";
import { subscriptionResource } from "./representations.js";
import { armRoute, type ArmCall, type ArmResult, type ArmRoute } from "./route-table.js";
import { subscriptionTarget, type SubscriptionTarget } from "./targets.js";

export const SUBSCRIPTIONS_TYPE = "subscriptions";

async function put(call: ArmCall<SubscriptionTarget>): Promise<ArmResult> {
  if (!call.services.authenticator.isTrustedCaller(call.principal)) throw errors.untrustedCaller();
  await call.services.subscriptions.notify(call.principal, call.target.subscriptionId, call.body as unknown as LifecycleNotification);
  // the RPC's answer to a notification is the notification itself
  return { status: 200, body: call.body };
}

async function get(call: ArmCall<SubscriptionTarget>): Promise<ArmResult> {
  const { subscriptionId } = call.target;
  const record = await call.services.subscriptions.get(call.principal, subscriptionId);
  if (!record) throw errors.subscriptionNotFound(subscriptionId);
  return { status: 200, body: subscriptionResource(record) };
}

export const subscriptionRoutes: ArmRoute[] = [
  armRoute({ operationId: "Subscriptions_Put", method: "PUT", url: "/subscriptions/:subscriptionId", resourceType: SUBSCRIPTIONS_TYPE, target: subscriptionTarget, handler: put }),
  armRoute({ operationId: "Subscriptions_Get", method: "GET", url: "/subscriptions/:subscriptionId", resourceType: SUBSCRIPTIONS_TYPE, target: subscriptionTarget, handler: get }),
];
