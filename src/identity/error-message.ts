// The message of anything a catch clause receives (ProcError and RuntimeError are Errors too).

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
