/** The error a promise rejects with, so a test can assert its class and exact message; fails if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** The error `fn` throws, checked to be a `Class`; fails if it returns or throws something else. */
export function thrown<T extends Error>(Class: new (...args: never[]) => T, fn: () => unknown): T {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof Class)) throw new Error(`expected a ${Class.name}, got ${String(e)}`);
    return e;
  }
  throw new Error(`expected a ${Class.name}`);
}
