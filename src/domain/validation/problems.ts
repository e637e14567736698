/** Collects every problem of one request, so the caller learns them all at once (ARM `details`). */
import { errors, type ArmErrorDetail } from "../../arm/errors.js";

export class Problems {
  private readonly list: ArmErrorDetail[] = [];

  add(target: string, message: string, code = "InvalidParameter"): void {
    this.list.push({ code, message, target });
  }

  readOnly(target: string): void {
    this.add(target, `The property '${target}' is read-only and cannot be set to a value different from the current one.`, "PropertyChangeNotAllowed");
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** throws the ARM error naming the first problem, with all of them as details */
  throwIfAny(): void {
    if (!this.empty) throw errors.invalidParameters(this.list);
  }
}
