/** Collects every problem of one request, so the caller learns them all at once (ARM `details`). */
import { errors, MAX_DETAILS, type ArmErrorDetail, type ErrorCode } from "../../arm/errors.js";

export class Problems {
  private readonly list: ArmErrorDetail[] = [];
  /** problems found beyond MAX_DETAILS: counted, not kept (50,000 bad keys make one small answer) */
  private omitted = 0;

  add(target: string, message: string, code: ErrorCode = "InvalidParameter"): void {
    if (this.list.length >= MAX_DETAILS) this.omitted++;
    else this.list.push({ code, message, target });
  }

  readOnly(target: string): void {
    this.add(target, `The property '${target}' is read-only and cannot be set to a value different from the current one.`, "PropertyChangeNotAllowed");
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** throws the ARM error naming the first problem, with all of them as details */
  throwIfAny(): void {
    if (!this.empty) throw errors.invalidParameters(this.list, this.omitted);
  }
}
