/** The pure rules of a cluster selector: what matches, which cluster edits count as a change, how a submitted one is read and shown. */
import fs from "node:fs";
import t from "tap";
import { changed, matches, parseSelector, SELECTOR_CRITERIA, selectorView, type Selectable } from "../../src/domain/cluster-selector.js";

const cluster = (tags: Record<string, string> | undefined, distribution?: string, infrastructure?: string): Selectable => ({
  tags,
  properties: { distribution, infrastructure },
});

t.test("matches: every given criterion must hold", async (t) => {
  const c = cluster({ Ring: "prod", team: "payments" }, "AKS", "azure");
  t.ok(matches(undefined, c), "no selector selects every cluster");
  t.ok(matches({}, c), "an empty selector selects every cluster");
  t.ok(matches({ tags: { ring: "prod" } }, c), "tag keys compare case-insensitively");
  t.notOk(matches({ tags: { ring: "Prod" } }, c), "tag values compare exactly");
  t.notOk(matches({ tags: { ring: "prod", owner: "x" } }, c), "every listed tag must be present");
  t.ok(matches({ distribution: "aks" }, c), "distribution compares case-insensitively");
  t.notOk(matches({ distribution: "k3s" }, c));
  t.ok(matches({ infrastructure: "AZURE" }, c), "infrastructure compares case-insensitively");
  t.notOk(matches({ infrastructure: "aws" }, c));
  t.notOk(matches({ distribution: "aks" }, cluster({})), "a criterion on an absent field does not hold");
  t.notOk(matches({ tags: { ring: "prod" } }, cluster(undefined)), "an untagged cluster has no tag");
  t.ok(matches({ tags: { ring: "prod" }, distribution: "AKS", infrastructure: "azure" }, c), "all criteria together");
  t.notOk(matches({ tags: { ring: "prod" }, distribution: "AKS", infrastructure: "aws" }, c), "one failing criterion fails the selector");
});

t.test("changed: an edit of anything a criterion reads, and nothing else", async (t) => {
  const before = cluster({ a: "1", b: "2" }, "aks", "azure");
  t.notOk(changed(before, cluster({ b: "2", a: "1" }, "aks", "azure")), "tag order is no change");
  t.ok(changed(before, cluster({ a: "1", b: "3" }, "aks", "azure")), "a tag value");
  t.ok(changed(before, cluster({ a: "1" }, "aks", "azure")), "a tag removed");
  t.ok(changed(before, cluster({ a: "1", b: "2", c: "3" }, "aks", "azure")), "a tag added");
  t.ok(changed(before, cluster({ A: "1", b: "2" }, "aks", "azure")), "a tag key's case (conservative)");
  t.ok(changed(before, cluster({ a: "1", b: "2" }, "k3s", "azure")), "distribution");
  t.ok(changed(before, cluster({ a: "1", b: "2" }, undefined, "azure")), "distribution removed");
  t.ok(changed(before, cluster({ a: "1", b: "2" }, "aks", "aws")), "infrastructure");
  t.notOk(changed(cluster(undefined), cluster({})), "no tags and an empty tag set are the same");
  // every criterion that matches looks at must also count as a change: otherwise a re-tagged cluster is not re-evaluated
  for (const [criterion, edited] of [
    ["tags", cluster({ a: "1", b: "x" }, "aks", "azure")],
    ["distribution", cluster({ a: "1", b: "2" }, "other", "azure")],
    ["infrastructure", cluster({ a: "1", b: "2" }, "aks", "other")],
  ] as const) {
    const selector = criterion === "tags" ? { tags: { b: "2" } } : { [criterion]: criterion === "distribution" ? "aks" : "azure" };
    t.not(matches(selector, before), matches(selector, edited), `an edit of ${criterion} changes a selector's answer`);
    t.ok(changed(before, edited), `and counts as changed (${criterion})`);
  }
});

t.test("parseSelector: reads a submitted selector or says what is wrong", async (t) => {
  t.same(parseSelector(undefined), { problems: [] });
  t.same(parseSelector(null), { problems: [] });
  t.same(parseSelector({}), { problems: [] }, "an empty selector is no selector");
  t.same(parseSelector({ tags: {} }), { problems: [] });
  t.same(parseSelector({ tags: { ring: "prod" }, distribution: "aks" }), { selector: { tags: { ring: "prod" }, distribution: "aks" }, problems: [] });
  t.same(parseSelector("ring=prod").problems.map((p) => p.criterion), [undefined], "not an object");
  t.same(parseSelector({ tags: { ring: 1 } }).problems.map((p) => p.criterion), ["tags"]);
  t.same(parseSelector({ tags: ["ring"] }).problems.map((p) => p.criterion), ["tags"]);
  t.same(parseSelector({ tags: { ring: "a", RING: "b" } }).problems.map((p) => p.criterion), ["tags"], "the same tag twice");
  t.same(parseSelector({ distribution: "" }).problems.map((p) => p.criterion), ["distribution"]);
  t.same(parseSelector({ infrastructure: 3 }).problems.map((p) => p.criterion), ["infrastructure"]);
  const unknown = parseSelector({ region: "eastus" });
  t.same(unknown.problems.map((p) => p.criterion), ["region"]);
  t.match(unknown.problems[0]?.message, /'region'/);
});

t.test("selectorView: criteria in order, absent ones left out", async (t) => {
  t.equal(selectorView(undefined), undefined);
  t.same(Object.keys(selectorView({ infrastructure: "azure", tags: { a: "1" } }) ?? {}), ["tags", "infrastructure"]);
});

t.test("the openapi document describes exactly these criteria", async (t) => {
  const doc = JSON.parse(fs.readFileSync(new URL("../../openapi/configurationAssignments.json", import.meta.url), "utf8")) as {
    definitions: Record<string, { properties: Record<string, unknown> }>;
  };
  t.same(Object.keys(doc.definitions.ClusterSelector?.properties ?? {}), [...SELECTOR_CRITERIA]);
});
