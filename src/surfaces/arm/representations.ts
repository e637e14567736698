/**
 * What leaves the service, built field by field from allow-lists: a property that is not named here
 * cannot reach a response, whatever the stored record holds. Protected settings are never copied:
 * the response always carries an empty `configurationProtectedSettings`.
 */
import { LRUCache } from "lru-cache";
import type { SystemData } from "../../arm/system-data.js";
import { ASSIGNMENT_TYPE, CLUSTER_TYPE, CONFIGURATION_TYPE, FLUX_CONFIGURATION_TYPE } from "../../arm/resource-ids.js";
import type { FluxConfigurationView, FluxOperationStatus } from "../../domain/flux-configurations.js";
import type { ClusterCompliance } from "../../domain/assignment-rules.js";
import { selectorView } from "../../domain/cluster-selector.js";
import type { AssignmentView } from "../../domain/assignments.js";
import type { WhatIfItem } from "../../domain/assignment-what-if.js";
import { hasSecrets, type ConfigurationView } from "../../domain/configurations.js";
import { SECRET_REFERENCE_SETTINGS, type ClusterRecord, type ConfigurationSpec, type FluxConfigurationSpec, type RolloutPolicy, type StageStatus, type SubscriptionRecord } from "../../domain/types.js";
import { servedRepositoryUrl } from "../../domain/validation/repository-url.js";

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

/** the user-set fields of a configuration, shared by the configuration and the assignment that creates it */
function specFields(spec: ConfigurationSpec): Json {
  return {
    repositoryUrl: servedRepositoryUrl(spec.repositoryUrl), // a URL stored before the URL rule may hold a credential
    operatorNamespace: spec.operatorNamespace,
    operatorInstanceName: spec.operatorInstanceName,
    operatorType: spec.operatorType,
    operatorParams: spec.operatorParams,
    operatorScope: spec.operatorScope,
    enableHelmOperator: spec.enableHelmOperator,
    helmOperatorProperties:
      spec.helmOperatorProperties === undefined
        ? undefined
        : compact({ chartVersion: spec.helmOperatorProperties.chartVersion, chartValues: spec.helmOperatorProperties.chartValues }),
  };
}

/** references as the caller gave them (no value is ever in them) */
function referencesOf(spec: ConfigurationSpec): Json | undefined {
  const refs = spec.keyVaultReferences;
  if (!refs) return undefined;
  return Object.fromEntries(
    SECRET_REFERENCE_SETTINGS.filter((k) => refs[k] !== undefined).map((k) => {
      const r = refs[k] as NonNullable<(typeof refs)[typeof k]>;
      return [k, compact({ keyVaultResourceId: r.keyVaultResourceId, secretName: r.secretName, secretVersion: r.secretVersion })];
    }),
  );
}

/** which secret versions were read and which the cluster applied (never a value) */
function referencesStatus(view: ConfigurationView): Json | undefined {
  if (!view.record.spec.keyVaultReferences) return undefined;
  const k = view.keyVault;
  return compact({
    state: k?.state ?? "Resolving",
    resolvedVersions: k ? { ...k.resolvedVersions } : undefined,
    appliedVersions: view.record.appliedSecretVersions ? { ...view.record.appliedSecretVersions } : undefined,
    lastResolvedAt: k?.resolvedAt !== undefined ? new Date(k.resolvedAt).toISOString() : undefined,
    message: k?.state === "Failed" ? k.message : undefined,
  });
}

/** `withReferences`: the api-version has Key Vault references (2026-12-01-preview); the official ones never show them */
export function configurationResource(view: ConfigurationView, withReferences = false): Json {
  const { record } = view;
  const { complianceStatus: c } = record;
  return compact({
    id: record.id,
    name: record.name,
    type: CONFIGURATION_TYPE,
    managedBy: record.managedBy,
    systemData: systemDataOf(record.systemData),
    properties: compact({
      ...specFields(record.spec),
      configurationProtectedSettings: {},
      repositoryPublicKey: record.repositoryPublicKey ?? "",
      sshKnownHostsContents: view.sshKnownHostsContents,
      provisioningState: record.provisioningState,
      complianceStatus: compact({ complianceState: c.complianceState, lastConfigApplied: c.lastConfigApplied, message: c.message, messageLevel: c.messageLevel }),
      keyVaultReferences: withReferences ? referencesOf(record.spec) : undefined,
      keyVaultReferencesStatus: withReferences ? referencesStatus(view) : undefined,
    }),
  });
}

/**
 * The JSON text of configurations read without secrets, by stored version: such a view is exactly the
 * stored record (nothing of it depends on the time or on secrets), so its text is a function of the
 * record's id and store etag, and a GET of an unchanged configuration serializes nothing. Bounded by
 * the bytes held.
 */
const configurationTexts = new LRUCache<string, string>({ maxSize: 8 * 1024 * 1024, sizeCalculation: (text, key) => text.length + key.length });

/** configurationResource(view) as JSON text, from memory when the stored version was served before */
export function configurationText(view: ConfigurationView): string {
  // a record with secrets is shown as of now (known_hosts, expiry): built every time
  if (hasSecrets(view.record) || view.sshKnownHostsContents !== undefined) return JSON.stringify(configurationResource(view));
  const key = `${view.etag}\u0000${view.record.id}`;
  const cached = configurationTexts.get(key);
  if (cached !== undefined) return cached;
  const text = JSON.stringify(configurationResource(view));
  configurationTexts.set(key, text);
  return text;
}

/**
 * provisioningState follows the rollout (ARM clients poll the resource until it is terminal):
 * Accepted before the first batch, Updating while it runs, Succeeded once every cluster was visited.
 */
export function assignmentResource(view: AssignmentView): Json {
  const { record: a, status } = view;
  const current = status?.generation === a.generation ? status : undefined;
  // a rollout halted by a failing gate is Failed, by a user Canceled: both terminal for ARM pollers, both resumable
  const halted = current?.state === "Halted" ? (current.halted?.reason === "User" ? "Canceled" : "Failed") : undefined;
  const completed = current?.state === "Completed" ? ((current.clustersFailed ?? 0) > 0 ? "Failed" : "Succeeded") : halted;
  const provisioningState = a.deletion ? "Deleting" : (completed ?? (status ? "Updating" : "Accepted"));
  const summary = status?.complianceSummary;
  return {
    id: a.id,
    name: a.name,
    type: ASSIGNMENT_TYPE,
    systemData: systemDataOf(a.systemData),
    properties: compact({
      configurationName: a.spec.configurationName,
      configuration: a.spec.configuration ? compact({ ...specFields(a.spec.configuration), keyVaultReferences: referencesOf(a.spec.configuration) }) : undefined,
      fluxConfiguration: assignedFluxView(a.spec.fluxConfiguration),
      clusterSelector: selectorView(a.spec.clusterSelector),
      enforcementMode: a.spec.enforcementMode,
      rolloutPolicy: rolloutPolicyView(a.spec.rolloutPolicy),
      provisioningState,
      rollout: compact({
        status: current?.state ?? "InProgress",
        generation: a.generation,
        clustersProcessed: current?.clustersProcessed ?? 0,
        clustersFailed: current?.clustersFailed ?? 0,
        clustersTotal: current?.clustersTotal,
        startedAt: current?.startedAt,
        completedAt: current?.completedAt,
        currentStage: current?.stages && current.currentStage !== undefined ? current.stages[current.currentStage]?.name : undefined,
        haltedReason: current?.halted?.reason,
        haltedMessage: current?.halted?.message,
        haltedAt: current?.halted?.at,
        rolledBackFrom: current?.rolledBackFrom,
        stages: current?.stages?.map(stageView),
      }),
      complianceSummary:
        summary === undefined
          ? undefined
          : { totalClusters: summary.totalClusters, compliant: summary.compliant, pending: summary.pending, nonCompliant: summary.nonCompliant, failed: summary.failed, evaluatedAt: summary.evaluatedAt },
    }),
  };
}

function rolloutPolicyView(policy: RolloutPolicy | undefined): Json | undefined {
  if (!policy) return undefined;
  return {
    stages: policy.stages.map((s) =>
      compact({
        name: s.name,
        clusterSelector: selectorView(s.clusterSelector),
        percentage: s.percentage,
        bakeTime: s.bakeTime,
        gates: compact({ minInstalledPercentage: s.gates.minInstalledPercentage, progressDeadline: s.gates.progressDeadline, maxFailures: s.gates.maxFailures, maxFailurePercentage: s.gates.maxFailurePercentage }),
      }),
    ),
  };
}

function stageView(s: StageStatus): Json {
  return compact({
    name: s.name,
    state: s.state,
    clustersTotal: s.clustersTotal,
    applied: s.applied,
    installed: s.installed,
    failed: s.failed,
    openedAt: s.openedAt,
    gateMetAt: s.gateMetAt,
    passedAt: s.passedAt,
    failedAt: s.failedAt,
    message: s.message,
    failingClusters: s.failingClusters?.map((f) => ({ clusterId: f.clusterId, message: f.message })),
  });
}

export function whatIfResult(item: WhatIfItem): Json {
  return compact({ clusterId: item.clusterId, stage: item.stage, change: item.change, changedProperties: item.changedProperties, message: item.message });
}

export function complianceResult(result: ClusterCompliance): Json {
  return compact({ clusterId: result.clusterId, complianceState: result.complianceState, message: result.message, configurationId: result.configurationId });
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
      // why the cluster shows Expired: its agent key is refused until a new one is registered
      miscellaneousProperties:
        p.agentKeyStatus === "Compromised"
          ? {
              agentKeyStatus: "Compromised",
              agentKeyStatusMessage:
                "The registered agent key was once stored with its private half and is no longer accepted. Generate a new key pair on the cluster and register its public key (PUT the cluster).",
            }
          : undefined,
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

// Flux v2 fluxConfigurations (issue #16) ---------------------------------------------------------

/** a fluxConfiguration as served: protected settings never (the property is left out), known_hosts while kept, as Azure */
function kustomizationsView(s: FluxConfigurationSpec): Json {
  return Object.fromEntries(
    Object.entries(s.kustomizations).map(([name, k]) => [
      name,
      compact({
        name,
        path: k.path,
        dependsOn: k.dependsOn,
        timeoutInSeconds: k.timeoutInSeconds,
        syncIntervalInSeconds: k.syncIntervalInSeconds,
        retryIntervalInSeconds: k.retryIntervalInSeconds,
        prune: k.prune,
        force: k.force,
        wait: k.wait,
        postBuild:
          k.postBuild === undefined
            ? undefined
            : compact({ substitute: k.postBuild.substitute, substituteFrom: k.postBuild.substituteFrom?.map((f) => ({ kind: f.kind, name: f.name, optional: f.optional })) }),
      }),
    ]),
  );
}

function gitRepositoryView(g: FluxConfigurationSpec["gitRepository"], sshKnownHosts: string | undefined): Json {
  return compact({
    url: servedRepositoryUrl(g.url),
    timeoutInSeconds: g.timeoutInSeconds,
    syncIntervalInSeconds: g.syncIntervalInSeconds,
    repositoryRef: g.repositoryRef === undefined ? undefined : compact({ branch: g.repositoryRef.branch, tag: g.repositoryRef.tag, semver: g.repositoryRef.semver, commit: g.repositoryRef.commit }),
    sshKnownHosts,
    httpsUser: g.httpsUser,
    httpsCACert: g.httpsCACert,
    localAuthRef: g.localAuthRef,
    provider: g.provider,
  });
}

/** a Flux v2 assignment's fluxConfiguration (properties.fluxConfiguration): what each cluster gets */
function assignedFluxView(s: FluxConfigurationSpec | undefined): Json | undefined {
  if (!s) return undefined;
  return compact({
    scope: s.scope,
    namespace: s.namespace,
    sourceKind: s.sourceKind,
    suspend: s.suspend,
    gitRepository: gitRepositoryView(s.gitRepository, undefined),
    kustomizations: kustomizationsView(s),
    waitForReconciliation: s.waitForReconciliation,
    reconciliationWaitDuration: s.reconciliationWaitDuration,
  });
}

export function fluxConfigurationResource(view: FluxConfigurationView): Json {
  const { record } = view;
  const s = record.spec;
  const g = s.gitRepository;
  const c = record.compliance;
  const kustomizations = kustomizationsView(s);
  return compact({
    id: record.id,
    name: record.name,
    type: FLUX_CONFIGURATION_TYPE,
    systemData: systemDataOf(record.systemData),
    properties: compact({
      scope: s.scope,
      namespace: s.namespace,
      sourceKind: s.sourceKind,
      suspend: s.suspend,
      gitRepository: gitRepositoryView(g, view.sshKnownHosts),
      kustomizations,
      // x-ms-secret in the official document: never in a response, not even empty (oav SECRET_PROPERTY)
      statuses: c.statuses.map((o) =>
        compact({
          name: o.name,
          namespace: o.namespace,
          kind: o.kind,
          complianceState: o.complianceState,
          appliedBy: o.appliedBy === undefined ? undefined : { name: o.appliedBy.name, namespace: o.appliedBy.namespace },
          statusConditions: o.statusConditions?.map((sc) => compact({ lastTransitionTime: sc.lastTransitionTime, message: sc.message, reason: sc.reason, status: sc.status, type: sc.type })),
        }),
      ),
      repositoryPublicKey: record.repositoryPublicKey ?? "",
      sourceSyncedCommitId: c.sourceSyncedCommitId,
      sourceUpdatedAt: c.sourceUpdatedAt,
      statusUpdatedAt: c.statusUpdatedAt,
      waitForReconciliation: s.waitForReconciliation,
      reconciliationWaitDuration: s.reconciliationWaitDuration,
      complianceState: c.complianceState,
      provisioningState: record.provisioningState,
      errorMessage: c.errorMessage,
    }),
  });
}

export function fluxOperationStatus(status: FluxOperationStatus): Json {
  return compact({ id: status.id, name: status.name, status: status.status, error: status.error === undefined ? undefined : { code: status.error.code, message: status.error.message } });
}
