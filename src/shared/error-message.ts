// The message of anything a catch clause receives. One helper for the whole code base: a thrown
// value need not be an Error (a library may throw a string), and String(err) of an Error would
// prefix its name, which the audit log and CLI messages do not want.

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
