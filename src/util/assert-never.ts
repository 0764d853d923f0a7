// The default branch of an exhaustive switch over a discriminated union: the compiler
// proves it unreachable (its argument is `never`), and at run time it names the value
// that a newer peer, an old snapshot or a bug let through.
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
