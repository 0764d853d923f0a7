// Start-up validation of numeric limits, with messages that name the value and the range.
import { RatifyError } from '../errors.js';

/** Throws RatifyError('CONFIG_INVALID') unless `value` is an integer in [min, max]. */
export function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RatifyError('CONFIG_INVALID', `${name} (${String(value)}) must be an integer between ${min} and ${max}`);
  }
}
