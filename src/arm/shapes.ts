/**
 * ARM's own rules for the names and shapes every request carries, which ARM's front door enforces
 * before a provider sees the request: subscription ids, resource group names, tags, locations.
 * Codes are explained in errors.ts.
 */
import { errors, quote, type ErrorCode } from "./errors.js";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** ARM: 1-90 Unicode letters and digits, '_', '-', '.', '(' and ')'; not ending in '.' */
const RESOURCE_GROUP_NAME = /^[\p{L}\p{N}_\-.()]{1,90}$/u;

export function checkSubscriptionId(subscriptionId: string): void {
  if (!GUID.test(subscriptionId)) throw errors.invalidSubscriptionId(subscriptionId);
}

export function checkResourceGroupName(name: string): void {
  if (!RESOURCE_GROUP_NAME.test(name) || name.endsWith(".")) throw errors.invalidResourceGroupName(name);
}

// ---- tags (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations)

export const MAX_TAGS = 50;
export const MAX_TAG_NAME_CHARS = 512;
export const MAX_TAG_VALUE_CHARS = 256;
/** characters ARM refuses in tag names, and control characters */
const TAG_NAME_RESERVED = /[<>%&\\?/\p{Cc}]/u;

export interface ShapeProblem {
  target: string;
  message: string;
  code: ErrorCode;
}

/** every tag problem (the caller collects them with the body's other problems) */
export function tagProblems(tags: Record<string, unknown> | undefined): ShapeProblem[] {
  if (tags === undefined || tags === null) return [];
  const out: ShapeProblem[] = [];
  const names = Object.keys(tags);
  if (names.length > MAX_TAGS) {
    out.push({ target: "tags", code: "InvalidTagCount", message: `The resource has ${names.length} tags; at most ${MAX_TAGS} are allowed.` });
  }
  for (const name of names) {
    const target = `tags.${name}`;
    if (name.trim() === "" || TAG_NAME_RESERVED.test(name)) {
      out.push({ target, code: "InvalidTagNameCharacters", message: `The tag name ${quote(name)} is empty or has reserved characters '<,>,%,&,\\,?,/' or control characters.` });
    } else if (name.length > MAX_TAG_NAME_CHARS) {
      out.push({ target, code: "InvalidTagName", message: `The tag name ${quote(name)} is too long: at most ${MAX_TAG_NAME_CHARS} characters are allowed (got ${name.length}).` });
    }
    const value = tags[name];
    if (typeof value === "string" && value.length > MAX_TAG_VALUE_CHARS) {
      out.push({ target, code: "InvalidTagValueLength", message: `The value of tag ${quote(name)} is too long: at most ${MAX_TAG_VALUE_CHARS} characters are allowed (got ${value.length}).` });
    }
  }
  return out;
}

// ---- locations

/** ARM's normalized form of a region name: `East US` -> `eastus` */
export const normalizeLocation = (location: string): string => location.replace(/\s+/g, "").toLowerCase();

/**
 * The Azure public cloud's region names (as `az account list-locations --query "[].name"` prints
 * them), the default of ALLOWED_LOCATIONS. Logical regions ARM lists (e.g. `global`, `asia`, `unitedstates`)
 * are left out: a connected cluster lives in a physical region.
 */
export const AZURE_PUBLIC_REGIONS: readonly string[] = [
  "eastus", "eastus2", "southcentralus", "westus2", "westus3", "australiaeast", "southeastasia", "northeurope",
  "swedencentral", "uksouth", "westeurope", "centralus", "southafricanorth", "centralindia", "eastasia",
  "indonesiacentral", "japaneast", "japanwest", "koreacentral", "malaysiawest", "newzealandnorth", "canadacentral",
  "francecentral", "germanywestcentral", "italynorth", "norwayeast", "polandcentral", "spaincentral",
  "switzerlandnorth", "mexicocentral", "uaenorth", "brazilsouth", "chilecentral", "israelcentral", "qatarcentral",
  "austriaeast", "belgiumcentral", "denmarkeast", "northcentralus", "westus", "jioindiawest", "centraluseuap",
  "eastus2euap", "southafricawest", "australiacentral", "australiacentral2", "australiasoutheast", "koreasouth",
  "southindia", "westindia", "jioindiacentral", "canadaeast", "francesouth", "germanynorth", "norwaywest",
  "switzerlandwest", "ukwest", "uaecentral", "brazilsoutheast", "westcentralus", "eastusstg", "southcentralusstg",
  "brazilus", "taiwannorth", "taiwannorthwest",
];

/** undefined when the location is one of `allowed` (compared normalized), else the problem */
export function locationProblem(location: string, allowed: readonly string[], resourceType: string): ShapeProblem | undefined {
  const normalized = normalizeLocation(location);
  if (allowed.some((a) => normalizeLocation(a) === normalized)) return undefined;
  const error = errors.locationNotAvailable(location, resourceType);
  return { target: "location", code: error.code, message: error.message };
}
