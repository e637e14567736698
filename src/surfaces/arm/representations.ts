/**
 * What leaves the service, built field by field from allow-lists: a property that is not named here
 * cannot reach a response, whatever the stored record holds. Protected settings are never copied:
 * the response always carries an empty `configurationProtectedSettings`.
 */
import { CLUSTER_TYPE, CONFIGURATION_TYPE } from "../../arm/resource-ids.js";
import type { ConfigurationView } from "../../domain/configurations.js";
import type { ClusterRecord, SubscriptionRecord, SystemData } from "../../domain/types.js";

type Json = Record<string, unknown>;

/** drops undefined members so responses hold no `null`s the schemas do not allow */
function compact(obj: Json): Json {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

function systemDataOf(s: SystemData): Json {
  return compact({
    createdBy: s.createdBy,
    createdByType: s.createdByType,
    createdAt: s.createdAt,
    lastModifiedBy: s.lastModifiedBy,
    lastModifiedByType: s.lastModifiedByType,
    lastModifiedAt: s.lastModifiedAt,
  });
}

export function configurationResource(view: ConfigurationView): Json {
  const { record } = view;
  const { spec, complianceStatus: c } = record;
  return {
    id: record.id,
    name: record.name,
    type: CONFIGURATION_TYPE,
    systemData: systemDataOf(record.systemData),
    properties: compact({
      repositoryUrl: spec.repositoryUrl,
      operatorNamespace: spec.operatorNamespace,
      operatorInstanceName: spec.operatorInstanceName,
      operatorType: spec.operatorType,
      operatorParams: spec.operatorParams,
      configurationProtectedSettings: {},
      operatorScope: spec.operatorScope,
      repositoryPublicKey: record.repositoryPublicKey ?? "",
      sshKnownHostsContents: view.sshKnownHostsContents,
      enableHelmOperator: spec.enableHelmOperator,
      helmOperatorProperties:
        spec.helmOperatorProperties === undefined
          ? undefined
          : compact({ chartVersion: spec.helmOperatorProperties.chartVersion, chartValues: spec.helmOperatorProperties.chartValues }),
      provisioningState: record.provisioningState,
      complianceStatus: compact({ complianceState: c.complianceState, lastConfigApplied: c.lastConfigApplied, message: c.message, messageLevel: c.messageLevel }),
    }),
  };
}

export function clusterResource(record: ClusterRecord): Json {
  const p = record.properties;
  return compact({
    id: record.id,
    name: record.name,
    type: CLUSTER_TYPE,
    location: record.location,
    tags: record.tags ?? {},
    identity: compact({ type: record.identity.type, principalId: record.identity.principalId, tenantId: record.identity.tenantId }),
    systemData: systemDataOf(record.systemData),
    properties: compact({
      agentPublicKeyCertificate: p.agentPublicKeyCertificate,
      distribution: p.distribution,
      infrastructure: p.infrastructure,
      agentVersion: p.agentVersion,
      kubernetesVersion: p.kubernetesVersion,
      totalNodeCount: p.totalNodeCount,
      totalCoreCount: p.totalCoreCount,
      connectivityStatus: p.connectivityStatus,
      lastConnectivityTime: p.lastConnectivityTime,
      provisioningState: p.provisioningState,
    }),
  });
}

export function subscriptionResource(record: SubscriptionRecord): Json {
  return compact({
    id: `/subscriptions/${record.subscriptionId}`,
    subscriptionId: record.subscriptionId,
    state: record.state,
    registrationDate: record.registrationDate,
    properties: compact({ ...(record.properties ?? {}), tenantId: record.tenantId }),
  });
}
