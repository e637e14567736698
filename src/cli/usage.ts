/**
 * The command lines' one way to fail: a wrong or missing argument prints what was wrong and the usage
 * (exit 2, as getopt-style tools do), `--help` prints the usage (exit 0), anything else prints its
 * message (exit 1). node:util parseArgs errors (unknown option, missing value) count as usage errors.
 */

export class UsageError extends Error {
  /** no message: the usage was asked for (--help) */
  constructor(message = "") {
    super(message);
  }
}

/** an error the user can act on without a stack trace (bad configuration, a refused request) */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

function isParseArgsError(err: unknown): err is Error {
  return err instanceof Error && "code" in err && typeof err.code === "string" && err.code.startsWith("ERR_PARSE_ARGS");
}

export function runCli(usage: string, main: () => Promise<void>, isKnown: (err: unknown) => err is Error = (err): err is Error => false): void {
  main().catch((err: unknown) => {
    if (err instanceof UsageError && err.message === "") {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    if (err instanceof UsageError || isParseArgsError(err)) {
      process.stderr.write(`${err.message}\n${usage}\n`);
      process.exit(2);
    }
    if (err instanceof CliError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(err.exitCode);
    }
    if (isKnown(err)) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
