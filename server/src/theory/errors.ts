/** Errors of the theory's numerics. */

/** Raised when numerics break down (non-PD matrix, NaN): says what and where. */
export class NumericalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NumericalError';
  }
}
